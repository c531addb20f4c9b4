package eventsig

import (
	"crypto/sha256"

	"github.com/revocd/revocd/revocation"
)

// hashSize is the size of every tree hash.
const hashSize = sha256.Size

// leafHash returns SHA-256(0x00 || Canonical(e)).
func leafHash(e *revocation.Event, scratch []byte) ([hashSize]byte, []byte) {
	scratch = e.AppendCanonical(append(scratch[:0], 0x00))
	return sha256.Sum256(scratch), scratch
}

// nodeHash returns SHA-256(0x01 || l || r).
func nodeHash(l, r *[hashSize]byte) [hashSize]byte {
	var buf [1 + 2*hashSize]byte
	buf[0] = 0x01
	copy(buf[1:], l[:])
	copy(buf[1+hashSize:], r[:])
	return sha256.Sum256(buf[:])
}

// buildTree returns every level of the tree over leaves, leaves first and
// the one-element root level last.
func buildTree(leaves [][hashSize]byte) [][][hashSize]byte {
	levels := [][][hashSize]byte{leaves}
	for cur := leaves; len(cur) > 1; {
		next := make([][hashSize]byte, 0, (len(cur)+1)/2)
		for i := 0; i < len(cur); i += 2 {
			if i+1 < len(cur) {
				next = append(next, nodeHash(&cur[i], &cur[i+1]))
			} else {
				next = append(next, cur[i]) // odd node promoted
			}
		}
		levels = append(levels, next)
		cur = next
	}
	return levels
}

// appendProof appends the sibling hashes of leaf index, bottom up.
func appendProof(dst []byte, levels [][][hashSize]byte, index int) []byte {
	for _, level := range levels[:len(levels)-1] {
		if sib := index ^ 1; sib < len(level) {
			dst = append(dst, level[sib][:]...)
		}
		index >>= 1
	}
	return dst
}

// proofLen returns the number of proof hashes for leaf index of count
// leaves (index < count).
func proofLen(index, count uint64) int {
	n := 0
	for ; count > 1; count = (count + 1) / 2 {
		if index&1 == 1 || index+1 < count {
			n++
		}
		index >>= 1
	}
	return n
}

// rootFromProof walks proof (proofLen(index, count) hashes) from leaf up.
func rootFromProof(leaf [hashSize]byte, index, count uint64, proof []byte) [hashSize]byte {
	node := leaf
	for ; count > 1; count = (count + 1) / 2 {
		var sib [hashSize]byte
		switch {
		case index&1 == 1:
			copy(sib[:], proof)
			proof = proof[hashSize:]
			node = nodeHash(&sib, &node)
		case index+1 < count:
			copy(sib[:], proof)
			proof = proof[hashSize:]
			node = nodeHash(&node, &sib)
		}
		index >>= 1
	}
	return node
}
