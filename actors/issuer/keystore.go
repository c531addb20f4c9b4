package issuer

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/revocd/revocd/crypto/token"
	"github.com/revocd/revocd/persistence/sqlitestore"
)

// RingKV is the SQLite kv entry that holds the token key ring.
const RingKV = "token_ring"

type ringRecord struct {
	Current string      `json:"current"`
	Keys    []keyRecord `json:"keys"`
	// Revoked lists the revoked kids (revoke_kid): a revocation is
	// permanent, whatever the lifetime of its index entry.
	Revoked []revokedRecord `json:"revoked,omitempty"`
}

type keyRecord struct {
	Key         []byte `json:"key"` // token.Key.MarshalBinary
	RetireAfter int64  `json:"retire_after,omitempty"`
	// Dev marks a key held by a node in development mode (--dev): such a
	// node's admin endpoints are open, so anyone may have minted tokens
	// with it. It is never trusted outside --dev.
	Dev bool `json:"dev,omitempty"`
}

type revokedRecord struct {
	Kid string `json:"kid"`
	// Key is the revoked key's token.Key.MarshalBinary, when known: it
	// tells the key's authentic tokens (revoked) from forged ones.
	Key []byte `json:"key,omitempty"`
}

// EncodeRing serializes the ring (private key material included) for the
// audit log's kv table, revoked kids included. dev (the node runs with
// --dev) marks every key of the ring development-only: a later start
// without --dev revokes them (LoadRing).
func EncodeRing(r *token.Ring, dev bool) ([]byte, error) {
	rec := ringRecord{}
	if cur := r.Current(); cur != nil {
		rec.Current = cur.ID
	}
	for _, k := range r.Keys() {
		b, err := k.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("issuer: encode key %s: %w", k.ID, err)
		}
		kr := keyRecord{Key: b, Dev: dev}
		if t, ok := r.RetireAfter(k.ID); ok && !t.IsZero() {
			kr.RetireAfter = t.UnixMilli()
		}
		rec.Keys = append(rec.Keys, kr)
	}
	for _, kid := range r.RevokedKeyIDs() {
		rr := revokedRecord{Kid: kid}
		if k, _ := r.RevokedKey(kid); k != nil {
			b, err := k.MarshalBinary()
			if err != nil {
				return nil, fmt.Errorf("issuer: encode revoked key %s: %w", kid, err)
			}
			rr.Key = b
		}
		rec.Revoked = append(rec.Revoked, rr)
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
	// Revoked reports whether a kid has been revoked (revoke_kid) by an
	// event still in the revocation index: such a key is revoked in the
	// ring, which persists it for good.
	Revoked func(kid string) bool
	// Dev is --dev. Outside it, the keys a development-mode node held
	// (marked by EncodeRing) and the key of DevSecret are revoked.
	Dev bool
	// DevSecret is the public development secret (config.SeedDefaultSecret).
	DevSecret string
	// Logger, if set, reports keys revoked at start.
	Logger *slog.Logger
}

// LoadRing restores the key ring from the audit log, or creates it. The
// configured HS256 secret becomes the current key when it is new (the
// operator rotated JWT_SECRET_KEY); a change of JWT_ALGORITHM generates a
// key of the new algorithm. Replaced keys verify until MaxLifetime has
// passed. The resulting ring is persisted before LoadRing returns.
//
// Revoked kids stay revoked: the persisted ones, those o.Revoked reports,
// and, outside o.Dev, every key marked development-only and the key of
// o.DevSecret. A JWT_SECRET_KEY whose kid is revoked never signs again: the
// ring keeps (or generates) another current key and the secret's tokens are
// reported revoked.
func LoadRing(ctx context.Context, store *sqlitestore.Store, o RingOptions) (*token.Ring, error) {
	now := o.Now()
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	revoked := func(kid string) bool { return o.Revoked != nil && o.Revoked(kid) }
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
		for _, rr := range rec.Revoked {
			if len(rr.Key) == 0 {
				ring.Revoke(rr.Kid)
				continue
			}
			k, err := token.UnmarshalKey(rr.Key)
			if err != nil {
				return nil, fmt.Errorf("issuer: decode key ring: revoked key %s: %w", rr.Kid, err)
			}
			ring.RevokeKey(k)
		}
		var current *token.Key
		for _, kr := range rec.Keys {
			k, err := token.UnmarshalKey(kr.Key)
			if err != nil {
				return nil, fmt.Errorf("issuer: decode key ring: %w", err)
			}
			if kr.Dev && !o.Dev {
				log.Warn("issuer: revoking a development-mode key: this database was used with --dev, whose admin endpoints are open",
					"kid", k.ID, "sqlite", store.Path())
				ring.RevokeKey(k)
				continue
			}
			if revoked(k.ID) || ring.IsRevoked(k.ID) {
				ring.RevokeKey(k)
				continue
			}
			if kr.RetireAfter != 0 && time.UnixMilli(kr.RetireAfter).Before(now) {
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
	if !o.Dev && o.DevSecret != "" {
		// The public development secret's key, however it got here (a
		// --dev start before dev marks existed), is never trusted.
		dk, err := token.NewHMACKey(SecretKeyID(o.DevSecret), []byte(o.DevSecret))
		if err != nil {
			return nil, fmt.Errorf("issuer: development key: %w", err)
		}
		if _, known := ring.Lookup(dk.ID); known {
			log.Warn("issuer: revoking the public development secret's key", "kid", dk.ID, "sqlite", store.Path())
			ring.RevokeKey(dk)
		}
	}
	var want *token.Key
	if o.Algorithm == token.AlgHS256 {
		want, err = token.NewHMACKey(SecretKeyID(o.Secret), []byte(o.Secret))
		if err != nil {
			return nil, fmt.Errorf("issuer: JWT_SECRET_KEY: %w", err)
		}
		if revoked(want.ID) || ring.IsRevoked(want.ID) {
			log.Warn("issuer: JWT_SECRET_KEY derives a revoked kid: it never signs again, a generated key does; set a new JWT_SECRET_KEY",
				"kid", want.ID)
			ring.RevokeKey(want)
			want = nil
		} else if _, known := ring.Lookup(want.ID); known {
			want = nil // keep the persisted state (the secret may have been rotated away)
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
	blob, err = EncodeRing(ring, o.Dev)
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
