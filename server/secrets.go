package server

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"github.com/revocd/revocd/config"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/crypto/kex"
	"github.com/revocd/revocd/persistence/sqlitestore"
)

// kv names of the node's persisted secrets.
const (
	kvEventSigner = "event_signer"
	kvBindingKey  = "binding_key"
	kvKEMStatic   = "kem_static"
)

// loadOrCreate returns the kv value name, creating it with create() and
// persisting it on first start.
func loadOrCreate(ctx context.Context, store *sqlitestore.Store, name string, create func() ([]byte, error)) ([]byte, error) {
	b, ok, err := store.GetKV(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("server: load %s: %w", name, err)
	}
	if ok {
		return b, nil
	}
	if b, err = create(); err != nil {
		return nil, fmt.Errorf("server: create %s: %w", name, err)
	}
	tx, err := store.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("server: persist %s: %w", name, err)
	}
	if err := tx.PutKV(name, b); err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("server: persist %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("server: persist %s: %w", name, err)
	}
	return b, nil
}

// secrets are the node's persisted keys.
type secrets struct {
	signer *eventsig.Signer
	// legacyBindingKey is the per-node client-binding key of a database
	// created before the key was cluster-wide (nil otherwise).
	legacyBindingKey []byte
	kem              *kex.StaticKey
}

// bindingKeyInfo is the HKDF info of the client-binding key.
const bindingKeyInfo = "revocd/refresh-binding/v1"

// bindingKey derives the cluster-wide client-binding key from
// JWT_SECRET_KEY (HKDF-SHA256, info bindingKeyInfo), which every node of a
// cluster shares: a binding hashed on one node is checked on any other.
// The secret itself is never stored; the key changes with it.
func bindingKey(jwtSecret string) []byte {
	k, err := hkdf.Key(sha256.New, []byte(jwtSecret), nil, bindingKeyInfo, 32)
	if err != nil {
		panic(fmt.Sprintf("server: derive the binding key: %v", err)) // only for lengths hkdf refuses
	}
	return k
}

func loadSecrets(ctx context.Context, store *sqlitestore.Store, eventKeyID string) (*secrets, error) {
	var s secrets
	b, err := loadOrCreate(ctx, store, kvEventSigner, func() ([]byte, error) {
		sg, err := eventsig.NewSigner(eventKeyID, rand.Reader)
		if err != nil {
			return nil, err
		}
		return sg.MarshalBinary()
	})
	if err != nil {
		return nil, err
	}
	if s.signer, err = eventsig.UnmarshalSigner(b); err != nil {
		return nil, fmt.Errorf("server: decode event signer: %w", err)
	}
	if s.signer.KeyID() != eventKeyID {
		return nil, config.Errorf("PQC_SIGNING_KEY_ID", "PQC_SIGNING_KEY_ID is %q but this database's event-signing key is %q; set PQC_SIGNING_KEY_ID=%s",
			eventKeyID, s.signer.KeyID(), s.signer.KeyID())
	}
	// The per-node binding key of earlier versions is only read, never
	// created: bindings are now hashed under the cluster-wide key
	// (bindingKey), and rows stored under this one keep verifying here.
	if s.legacyBindingKey, _, err = store.GetKV(ctx, kvBindingKey); err != nil {
		return nil, fmt.Errorf("server: load %s: %w", kvBindingKey, err)
	}
	b, err = loadOrCreate(ctx, store, kvKEMStatic, func() ([]byte, error) {
		k, err := kex.GenerateStaticKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return k.MarshalBinary()
	})
	if err != nil {
		return nil, err
	}
	if s.kem, err = kex.UnmarshalStaticKey(b); err != nil {
		return nil, fmt.Errorf("server: decode KEM key: %w", err)
	}
	return &s, nil
}
