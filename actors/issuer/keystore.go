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
	"maps"
	"slices"
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
	// Foreign lists the keys other nodes published (key_state): verify
	// only, never signing here.
	Foreign []foreignRecord `json:"foreign,omitempty"`
	// Published is the state of each of this node's keys as last
	// published in the signed log.
	Published map[string]PublishedState `json:"published,omitempty"`
}

type foreignRecord struct {
	Kid string `json:"kid"`
	// Own: the node holds the key itself (in Keys as well).
	Own bool `json:"own,omitempty"`
	// JWK is an asymmetric key's public JWK; Key an HS256 key's
	// token.Key.MarshalBinary.
	JWK       json.RawMessage        `json:"jwk,omitempty"`
	Key       []byte                 `json:"key,omitempty"`
	Origins   map[string]OriginState `json:"origins"`
	OwnRetire int64                  `json:"own_retire,omitempty"`
	Dev       bool                   `json:"dev,omitempty"`
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
	return (&Keys{Ring: r}).Encode(dev)
}

// Encode is EncodeRing of the whole key state: the ring's own keys, the
// keys of other nodes (their public JWK, or an HS256 key's secret) and what
// was published.
func (ks *Keys) Encode(dev bool) ([]byte, error) {
	r := ks.Ring
	rec := ringRecord{Published: ks.Published}
	if cur := r.Current(); cur != nil {
		rec.Current = cur.ID
	}
	for _, k := range r.Keys() {
		if !ks.own(k.ID) || k.VerifyOnly() {
			continue
		}
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
	for _, kid := range slices.Sorted(maps.Keys(ks.Foreign)) {
		f := ks.Foreign[kid]
		k, ok := r.Lookup(kid)
		if !ok {
			continue // retired or revoked: forgotten
		}
		fr := foreignRecord{Kid: kid, Own: f.Own, Origins: f.Origins, OwnRetire: f.OwnRetire, Dev: dev}
		{
			if j, ok := k.PublicJWK(); ok {
				b, err := json.Marshal(j)
				if err != nil {
					return nil, fmt.Errorf("issuer: encode key %s: %w", kid, err)
				}
				fr.JWK = b
			} else if b, err := k.MarshalBinary(); err == nil {
				fr.Key = b
			} else {
				return nil, fmt.Errorf("issuer: encode key %s: %w", kid, err)
			}
		}
		rec.Foreign = append(rec.Foreign, fr)
	}
	for _, kid := range r.RevokedKeyIDs() {
		rr := revokedRecord{Kid: kid}
		if k, _ := r.RevokedKey(kid); k != nil && !k.VerifyOnly() {
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
	ks, err := LoadKeys(ctx, store, o)
	if err != nil {
		return nil, err
	}
	return ks.Ring, nil
}

// LoadKeys is LoadRing returning the whole key state: the keys of other
// nodes restored verify-only (those learned in --dev are revoked outside
// it, those whose tokens have all expired are forgotten) and what was
// published.
func LoadKeys(ctx context.Context, store *sqlitestore.Store, o RingOptions) (*Keys, error) {
	now := o.Now()
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	revoked := func(kid string) bool { return o.Revoked != nil && o.Revoked(kid) }
	ring := token.NewRing(nil)
	ks := &Keys{Ring: ring, Foreign: map[string]*ForeignKey{}, Published: map[string]PublishedState{}}
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
		if err := ks.restoreForeign(rec, o.Dev, now, log); err != nil {
			return nil, err
		}
		maps.Copy(ks.Published, rec.Published)
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
	blob, err = ks.Encode(o.Dev)
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
	return ks, nil
}

// restoreForeign brings the persisted keys of other nodes back into the
// ring, verify-only.
func (ks *Keys) restoreForeign(rec ringRecord, dev bool, now time.Time, log *slog.Logger) error {
	for _, fr := range rec.Foreign {
		f := &ForeignKey{Own: fr.Own, Origins: fr.Origins, OwnRetire: fr.OwnRetire}
		if f.Origins == nil {
			f.Origins = map[string]OriginState{}
		}
		var k *token.Key
		var err error
		held, inRing := ks.Ring.Lookup(fr.Kid)
		f.Own = fr.Own && inRing // an own key retired here stays for the others
		switch {
		case f.Own:
			k = held
		case len(fr.JWK) > 0:
			k, err = token.ParsePublicJWK(fr.JWK)
		default:
			k, err = token.UnmarshalKey(fr.Key)
		}
		if err != nil {
			return fmt.Errorf("issuer: decode key ring: key %s of another node: %w", fr.Kid, err)
		}
		if k.ID != fr.Kid {
			return fmt.Errorf("issuer: decode key ring: key %s of another node holds kid %s", fr.Kid, k.ID)
		}
		f.Key = k
		if fr.Dev && !dev && !f.Own {
			log.Warn("issuer: revoking another node's key learned in --dev", "kid", fr.Kid)
			ks.Ring.RevokeKey(k)
			continue
		}
		if ks.Ring.IsRevoked(fr.Kid) {
			continue
		}
		if u := f.verifyUntil(); !u.IsZero() && u.Before(now) && !f.Own {
			continue
		}
		if !f.Own {
			ks.Ring.Add(k)
		}
		ks.Foreign[fr.Kid] = f
		ks.applyRetire(fr.Kid)
	}
	return nil
}
