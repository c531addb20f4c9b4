package issuer

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/persistence/sqlitestore"
)

// RingKV is the SQLite kv entry that holds the token key ring.
const RingKV = "token_ring"

type ringRecord struct {
	Current string      `json:"current"`
	Keys    []keyRecord `json:"keys"`
}

type keyRecord struct {
	Key         []byte `json:"key"` // token.Key.MarshalBinary
	RetireAfter int64  `json:"retire_after,omitempty"`
}

// EncodeRing serializes the ring (private key material included) for the
// audit log's kv table.
func EncodeRing(r *token.Ring) ([]byte, error) {
	rec := ringRecord{}
	if cur := r.Current(); cur != nil {
		rec.Current = cur.ID
	}
	for _, k := range r.Keys() {
		b, err := k.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("issuer: encode key %s: %w", k.ID, err)
		}
		kr := keyRecord{Key: b}
		if t, ok := r.RetireAfter(k.ID); ok && !t.IsZero() {
			kr.RetireAfter = t.UnixMilli()
		}
		rec.Keys = append(rec.Keys, kr)
	}
	return json.Marshal(rec)
}

// SecretKeyID derives the kid of the configured HS256 secret: a keyed hash,
// so the kid reveals nothing about the secret.
func SecretKeyID(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("revocd/kid/v1"))
	return "hs-" + hex.EncodeToString(m.Sum(nil)[:8])
}

// NewKeyID returns a fresh, unique kid for a generated key of alg.
func NewKeyID(alg token.Algorithm) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	prefix := map[token.Algorithm]string{token.AlgHS256: "hs", token.AlgEdDSA: "ed", token.AlgES256: "es", token.AlgMLDSA65: "mldsa"}[alg]
	return prefix + "-" + hex.EncodeToString(b)
}

// RingOptions configure LoadRing.
type RingOptions struct {
	Algorithm token.Algorithm
	// Secret is JWT_SECRET_KEY (used for HS256).
	Secret string
	// MaxLifetime is the longest token lifetime: how long a replaced key
	// keeps verifying.
	MaxLifetime time.Duration
	Now         func() time.Time
	// Revoked reports whether a kid has been revoked (revoke_kid): such a
	// key is never made current again.
	Revoked func(kid string) bool
}

// LoadRing restores the key ring from the audit log, or creates it. The
// configured HS256 secret becomes the current key when it is new (the
// operator rotated JWT_SECRET_KEY); a change of JWT_ALGORITHM generates a
// key of the new algorithm. Replaced keys verify until MaxLifetime has
// passed. The resulting ring is persisted before LoadRing returns.
func LoadRing(ctx context.Context, store *sqlitestore.Store, o RingOptions) (*token.Ring, error) {
	now := o.Now()
	ring := token.NewRing(nil)
	blob, ok, err := store.GetKV(ctx, RingKV)
	if err != nil {
		return nil, fmt.Errorf("issuer: load key ring: %w", err)
	}
	if ok {
		var rec ringRecord
		if err := json.Unmarshal(blob, &rec); err != nil {
			return nil, fmt.Errorf("issuer: decode key ring: %w", err)
		}
		var current *token.Key
		for _, kr := range rec.Keys {
			k, err := token.UnmarshalKey(kr.Key)
			if err != nil {
				return nil, fmt.Errorf("issuer: decode key ring: %w", err)
			}
			if kr.RetireAfter != 0 && time.UnixMilli(kr.RetireAfter).Before(now) {
				continue
			}
			if o.Revoked != nil && o.Revoked(k.ID) {
				continue
			}
			if k.ID == rec.Current {
				current = k
				continue
			}
			ring.Add(k)
			if kr.RetireAfter != 0 {
				ring.SetRetireAfter(k.ID, time.UnixMilli(kr.RetireAfter))
			}
		}
		if current != nil {
			ring.Rotate(current, time.Time{})
		}
	}
	var want *token.Key
	if o.Algorithm == token.AlgHS256 {
		want, err = token.NewHMACKey(SecretKeyID(o.Secret), []byte(o.Secret))
		if err != nil {
			return nil, fmt.Errorf("issuer: JWT_SECRET_KEY: %w", err)
		}
		if _, known := ring.Lookup(want.ID); known || (o.Revoked != nil && o.Revoked(want.ID)) {
			want = nil // keep the persisted state (the secret may have been rotated away or revoked)
		}
	} else if cur := ring.Current(); cur == nil || cur.Alg != o.Algorithm {
		want, err = token.GenerateKey(o.Algorithm, NewKeyID(o.Algorithm), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("issuer: generate %s key: %w", o.Algorithm, err)
		}
	}
	if want != nil {
		ring.Rotate(want, now.Add(o.MaxLifetime))
	}
	if ring.Current() == nil {
		k, err := token.GenerateKey(o.Algorithm, NewKeyID(o.Algorithm), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("issuer: generate %s key: %w", o.Algorithm, err)
		}
		ring.Rotate(k, now.Add(o.MaxLifetime))
	}
	blob, err = EncodeRing(ring)
	if err != nil {
		return nil, err
	}
	tx, err := store.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("issuer: persist key ring: %w", err)
	}
	if err := tx.PutKV(RingKV, blob); err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("issuer: persist key ring: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("issuer: persist key ring: %w", err)
	}
	return ring, nil
}
