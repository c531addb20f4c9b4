// Package sqlitestore is revocd's durable state in one SQLite file: the
// permanent revocation audit log (which is also the transactional outbox),
// refresh-token rotation state, the token audit log, outbox cursors and
// persisted key material.
//
// Writes go through one dedicated connection in explicit transactions (Tx),
// one transaction per group commit; an acknowledged Commit has been fsynced
// (WAL, synchronous=FULL). Reads use a separate pool of query-only
// connections that, thanks to WAL, neither block nor are blocked by the
// writer and always see a committed snapshot.
package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Pool and pragma settings.
const (
	// readConns bounds the read pool; the machine has 2 cores and SQLite
	// readers are CPU-bound on a warm cache.
	readConns = 4
	// busyTimeoutMs covers other processes (the sqlite3 shell, backups)
	// holding the write lock or a checkpoint.
	busyTimeoutMs = 10000
)

// writerParams configures the single write connection: BEGIN IMMEDIATE so a
// transaction owns the write lock from its start, WAL with synchronous=FULL
// so every Commit is fsynced before it returns, a 64 MiB page cache for the
// unique indexes the inserts touch, and a cap on the WAL left after a
// checkpoint.
var writerParams = []string{
	"_txlock=immediate",
	fmt.Sprintf("_busy_timeout=%d", busyTimeoutMs),
	"_journal_mode=WAL",
	"_synchronous=FULL",
	"_pragma=cache_size(-65536)",
	"_pragma=journal_size_limit(67108864)",
}

// readerParams configures the read pool: query_only so a read path can
// never write, and the same synchronous setting in case a reader happens to
// run the final checkpoint when it is the last connection to close.
var readerParams = []string{
	fmt.Sprintf("_busy_timeout=%d", busyTimeoutMs),
	"_synchronous=FULL",
	"_query_only=1",
	"_pragma=cache_size(-16384)",
}

// Store is revocd's handle on its SQLite database. All methods are safe for
// concurrent use. Writes are serialized: Begin waits while another Tx is
// open. Reads run concurrently with each other and with the open Tx.
type Store struct {
	path string
	w    *sql.DB // exactly one connection: the only writer
	r    *sql.DB // query-only pool
	ws   [numWriteStmts]*sql.Stmt
	rs   [numReadStmts]*sql.Stmt
}

// Open opens, creating it if needed, the database file at path, applies
// pending schema migrations and prepares the statements. Errors are wrapped
// as "sqlitestore: open PATH: ..."; a database written by a newer schema
// yields ErrSchemaTooNew.
func Open(ctx context.Context, path string) (*Store, error) {
	s, err := open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	return s, nil
}

func open(ctx context.Context, path string) (_ *Store, err error) {
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, ErrBadPath
	}
	s := &Store{path: path}
	defer func() {
		if err != nil {
			s.Close() //nolint:errcheck // the open error is what matters
		}
	}()

	if s.w, err = sql.Open("sqlite", path+"?"+strings.Join(writerParams, "&")); err != nil {
		return nil, err
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err = migrate(ctx, s.w); err != nil {
		return nil, err
	}
	// The file may be new: make its directory entry durable too. SQLite
	// syncs the directory for the WAL it creates, not for the main file.
	if err = syncDir(filepath.Dir(path)); err != nil {
		return nil, err
	}

	if s.r, err = sql.Open("sqlite", path+"?"+strings.Join(readerParams, "&")); err != nil {
		return nil, err
	}
	s.r.SetMaxOpenConns(readConns)
	s.r.SetMaxIdleConns(readConns)
	s.r.SetConnMaxLifetime(0)
	s.r.SetConnMaxIdleTime(0)
	if err = s.prepare(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// prepare compiles every statement once: write statements on the writer
// connection (a Tx reuses them through sql.Tx.StmtContext without preparing
// again), read statements lazily per pooled reader connection.
func (s *Store) prepare(ctx context.Context) error {
	for i, q := range writeSQL {
		st, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
		s.ws[i] = st
	}
	for i, q := range readSQL {
		st, err := s.r.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", q, err)
		}
		s.rs[i] = st
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	return nil
}

// Close waits for running statements, then closes the read pool and the
// writer; the writer closes last, checkpointing the WAL into the main file.
// A Tx still open is rolled back by SQLite. Close is safe to call once, from
// any goroutine; the Store must not be used afterwards.
func (s *Store) Close() error {
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = wrap("close", err)
		}
	}
	for _, st := range s.rs {
		if st != nil {
			keep(st.Close())
		}
	}
	for _, st := range s.ws {
		if st != nil {
			keep(st.Close())
		}
	}
	if s.r != nil {
		keep(s.r.Close())
	}
	if s.w != nil {
		keep(s.w.Close())
	}
	return first
}

// Ping checks that the database file can still be read, through the read
// pool; it does not wait for an open Tx. Safe for concurrent use.
func (s *Store) Ping(ctx context.Context) error {
	var v int
	if err := s.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return wrap("ping", err)
	}
	return nil
}

// Path returns the database file path given to Open. Safe for concurrent use.
func (s *Store) Path() string { return s.path }
