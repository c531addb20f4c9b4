package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations holds the forward schema migrations; migrations[i] takes the
// database from PRAGMA user_version i to i+1. Entries are append-only: never
// edit one that has shipped, add a new one instead.
var migrations = []string{
	// v1: the seed tables plus the outbox, key storage and rotation state.
	`
CREATE TABLE revocation_events (
	id          INTEGER PRIMARY KEY AUTOINCREMENT, -- local commit order = outbox position
	event_id    TEXT    NOT NULL UNIQUE,
	type        TEXT    NOT NULL,
	value       TEXT    NOT NULL,
	ts          INTEGER NOT NULL,                  -- unix ms
	expires_at  INTEGER NOT NULL,                  -- unix ms
	reason      TEXT    NOT NULL DEFAULT '',
	origin      TEXT    NOT NULL,
	seq         INTEGER NOT NULL,
	key_id      TEXT    NOT NULL DEFAULT '',
	alg         TEXT    NOT NULL DEFAULT '',
	sig         BLOB,
	received_at INTEGER NOT NULL,                  -- unix ms, local clock
	UNIQUE (origin, seq)
);
-- Covering index for ActiveRevocations: the start-up scan reads this index
-- only and never the table rows, which carry the ~3.3 KB ML-DSA signature.
CREATE INDEX revocation_events_active
	ON revocation_events (expires_at, type, value, ts, event_id, origin, seq);
-- Serves the seed query "ORDER BY ts DESC LIMIT n" without a full scan.
CREATE INDEX revocation_events_ts ON revocation_events (ts);

CREATE TABLE refresh_tokens (
	jti            TEXT    PRIMARY KEY,
	subject        TEXT    NOT NULL,
	family_id      TEXT    NOT NULL,
	parent_jti     TEXT,                           -- NULL for a family root
	binding_hash   BLOB,
	issued_at      INTEGER NOT NULL,               -- unix ms
	expires_at     INTEGER NOT NULL,               -- unix ms
	revoked        INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
	retired_at     INTEGER,                        -- unix ms; set when rotated
	replaced_by    TEXT,                           -- child jti after rotation
	access_jti     TEXT,
	revoked_reason TEXT
);
CREATE INDEX refresh_tokens_subject ON refresh_tokens (subject, issued_at);
CREATE INDEX refresh_tokens_family  ON refresh_tokens (family_id);

CREATE TABLE token_events (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	ts      INTEGER NOT NULL,                      -- unix ms
	event   TEXT    NOT NULL,                      -- issue, refresh, reuse_detected, ...
	subject TEXT    NOT NULL DEFAULT '',
	jti     TEXT    NOT NULL DEFAULT '',
	detail  TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE outbox_cursors (
	dest    TEXT    PRIMARY KEY,
	last_id INTEGER NOT NULL                       -- revocation_events.id delivered up to
);

CREATE TABLE kv (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
`,
	// v2: every event of a signed batch carries the same 3.3 KB ML-DSA-65
	// batch signature; store it once. New rows keep in sig only their own
	// remainder (leaf index, leaf count, Merkle proof; eventsig.SplitSig)
	// and point at the batch part with sig_id; rows written before v2, and
	// rows whose Sig is not of eventsig's format, keep the full Sig in sig
	// with sig_id NULL. Either way the event's Sig is
	// event_signatures.sig || revocation_events.sig when sig_id is set and
	// revocation_events.sig otherwise (the view revocation_events_signed
	// shows it). Old rows are neither rewritten nor moved.
	`
CREATE TABLE event_signatures (
	id   INTEGER PRIMARY KEY,
	hash BLOB NOT NULL UNIQUE,                     -- SHA-256(sig), the dedupe key
	sig  BLOB NOT NULL                             -- version || ML-DSA-65 batch signature
);
ALTER TABLE revocation_events ADD COLUMN sig_id INTEGER REFERENCES event_signatures (id);
-- The start-up scan (ActiveRevocations) needs only what the in-memory index
-- keeps: a narrower covering index is faster to scan and cheaper to insert
-- into. Rebuilding it is the only part of this migration that grows with
-- the log (about a second per million events, once).
DROP INDEX revocation_events_active;
CREATE INDEX revocation_events_active ON revocation_events (expires_at, type, value, ts);
-- The seed's columns with every event's full Sig, for people and tools:
-- SELECT * FROM revocation_events_signed ORDER BY ts DESC LIMIT 5;
-- (the CAST makes the concatenation a BLOB; its bytes are kept as they are).
CREATE VIEW revocation_events_signed AS
SELECT r.id, r.event_id, r.type, r.value, r.ts, r.expires_at, r.reason, r.origin, r.seq,
	r.key_id, r.alg,
	CASE WHEN r.sig_id IS NULL THEN r.sig ELSE CAST(s.sig || r.sig AS BLOB) END AS sig,
	r.received_at
FROM revocation_events r LEFT JOIN event_signatures s ON s.id = r.sig_id;
`,
	// v3: replicated-state events (revocation.Type.IsState: key_state,
	// refresh_state) carry a payload, revocation.Event.Data; revocations keep
	// data NULL. The seed's columns are unchanged; the view shows data last.
	`
ALTER TABLE revocation_events ADD COLUMN data BLOB;
DROP VIEW revocation_events_signed;
CREATE VIEW revocation_events_signed AS
SELECT r.id, r.event_id, r.type, r.value, r.ts, r.expires_at, r.reason, r.origin, r.seq,
	r.key_id, r.alg,
	CASE WHEN r.sig_id IS NULL THEN r.sig ELSE CAST(s.sig || r.sig AS BLOB) END AS sig,
	r.received_at, r.data
FROM revocation_events r LEFT JOIN event_signatures s ON s.id = r.sig_id;
`,
}

// SchemaVersion is the PRAGMA user_version this package writes.
const SchemaVersion = 3

// migrate brings the database behind db (the single writer connection) up to
// SchemaVersion in one IMMEDIATE transaction, so concurrent openers of the
// same file serialize and a crash leaves either the old or the new version.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil) // the writer DSN makes this BEGIN IMMEDIATE
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit

	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("migrate: read user_version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("migrate: version %d > %d: %w", v, len(migrations), ErrSchemaTooNew)
	}
	if v == len(migrations) {
		return nil
	}
	for i := v; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migrate: to version %d: %w", i+1, err)
		}
	}
	// PRAGMA takes no bound parameters; the value is a trusted constant.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", len(migrations))); err != nil {
		return fmt.Errorf("migrate: set user_version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}
