package eventsig

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"sync"
)

// maxAnnouncementBytes bounds a sealed announcement AnnouncementTrust
// opens (an ML-DSA-65 key, base64 twice, is about 3.5 KB).
const maxAnnouncementBytes = 8 << 10

// announceCacheSize bounds AnnouncementTrust's cache of opened
// announcements (two generations of half as many).
const announceCacheSize = 1024

// AnnouncementTrust is the one receive rule for sealed key announcements,
// shared by every path that carries them (cluster Hellos, the
// revocd-node-key header of Kafka records, the announcements a node
// persisted): it opens an announcement under the cluster secret (a MAC
// check, cached by the announcement's SHA-256 so a header repeated on
// every batch costs a hash), refuses one naming this node itself, asks
// the caller's rule whether the announced node may be trusted on this path,
// and trusts the announced key in the Verifier for that node's events only
// (Verifier.TrustNode).
//
// Safe for concurrent use. The zero value is not usable: use
// NewAnnouncementTrust.
type AnnouncementTrust struct {
	secret []byte
	v      *Verifier
	self   string

	mu        sync.Mutex
	cur, prev map[[sha256.Size]byte]Announcement
	onTrusted func(sealed []byte, a Announcement)
}

// NewAnnouncementTrust returns the announcement rule for a node named self
// whose cluster secret is secret, trusting keys in v.
func NewAnnouncementTrust(secret []byte, v *Verifier, self string) *AnnouncementTrust {
	return &AnnouncementTrust{
		secret: bytes.Clone(secret), v: v, self: self,
		cur: map[[sha256.Size]byte]Announcement{},
	}
}

// OnTrusted sets f, called (synchronously, from Accept's caller) each time
// Accept trusts a key it did not trust before, with the sealed bytes: e.g.
// to persist them. Call it before Accept is first used.
func (t *AnnouncementTrust) OnTrusted(f func(sealed []byte, a Announcement)) {
	t.mu.Lock()
	t.onTrusted = f
	t.mu.Unlock()
}

// Accept opens sealed and, if its node is not this node and allowed (nil:
// any node) accepts it, trusts its key for that node's events. It returns
// the announcement (NodeID set whenever the MAC verified) and whether the
// key is newly trusted. Errors wrap ErrBadAnnouncement (malformed, MAC,
// refused node) or ErrInvalidKey.
func (t *AnnouncementTrust) Accept(sealed []byte, allowed func(nodeID string) bool) (Announcement, bool, error) {
	a, err := t.open(sealed)
	if err != nil {
		return Announcement{}, false, err
	}
	if a.NodeID == t.self {
		return a, false, fmt.Errorf("%w: it names this node (%q)", ErrBadAnnouncement, a.NodeID)
	}
	if allowed != nil && !allowed(a.NodeID) {
		return a, false, fmt.Errorf("%w: node %q is not allowed here (not a configured peer, not the connection's certificate's node, or not the record's origin)", ErrBadAnnouncement, a.NodeID)
	}
	if t.v.TrustsNode(a.NodeID, a.KeyID) && bytes.Equal(t.v.NodeKey(a.NodeID, a.KeyID), a.Pub) {
		return a, false, nil
	}
	if err := t.v.TrustNode(a.NodeID, a.KeyID, a.Pub); err != nil {
		return a, false, err
	}
	t.mu.Lock()
	f := t.onTrusted
	t.mu.Unlock()
	if f != nil {
		f(bytes.Clone(sealed), a)
	}
	return a, true, nil
}

// open returns the announcement sealed, from the cache when it was opened
// before.
func (t *AnnouncementTrust) open(sealed []byte) (Announcement, error) {
	if len(sealed) > maxAnnouncementBytes {
		return Announcement{}, fmt.Errorf("%w: %d bytes, want at most %d", ErrBadAnnouncement, len(sealed), maxAnnouncementBytes)
	}
	h := sha256.Sum256(sealed)
	t.mu.Lock()
	a, ok := t.cur[h]
	if !ok {
		if a, ok = t.prev[h]; ok {
			t.insertLocked(h, a)
		}
	}
	t.mu.Unlock()
	if ok {
		return a, nil
	}
	a, err := OpenAnnouncement(t.secret, sealed)
	if err != nil {
		return Announcement{}, err
	}
	t.mu.Lock()
	t.insertLocked(h, a)
	t.mu.Unlock()
	return a, nil
}

func (t *AnnouncementTrust) insertLocked(h [sha256.Size]byte, a Announcement) {
	if len(t.cur) >= announceCacheSize/2 {
		t.prev, t.cur = t.cur, make(map[[sha256.Size]byte]Announcement, announceCacheSize/2)
	}
	t.cur[h] = a
}
