// Package sqlitestore is revocd's durable state in one SQLite file: the
// permanent revocation audit log (which is also the transactional outbox),
// refresh-token rotation state, the token audit log, outbox cursors and
// persisted key material.
//
// Writes go through one dedicated connection in explicit transactions (Tx),
// one transaction per group commit; an acknowledged Commit has been fsynced
// (WAL, synchronous=FULL). Reads use a separate pool of query-only
// connections that, thanks to WAL, neither block nor are blocked by the
// writer and always see a committed snapshot. A third connection
// checkpoints the WAL in the background, off the commit path.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Errors of Prepare (and so of Open) about the database's location.
var (
	// ErrDirectory: the database's directory is missing and cannot be
	// created.
	ErrDirectory = errors.New("sqlitestore: cannot create the database directory")
	// ErrCreate: the database file does not exist and cannot be created.
	ErrCreate = errors.New("sqlitestore: cannot create the database file")
)

// Pool and pragma settings.
const (
	// readConns bounds the read pool; the machine has 2 cores and SQLite
	// readers are CPU-bound on a warm cache.
	readConns = 4
	// busyTimeoutMs covers other processes (the sqlite3 shell, backups)
	// holding the write lock or a checkpoint.
	busyTimeoutMs = 10000
	// checkpointEvery is how often the background checkpointer looks for
	// newly committed WAL frames to copy into the main database file.
	checkpointEvery = 200 * time.Millisecond
	// restartFrames is the WAL length (frames of 4 KiB pages: 32 MiB) from
	// which the background checkpointer also finishes a checkpoint between
	// two write transactions, so that the next one starts the WAL over
	// instead of appending to it (see checkpointLoop).
	restartFrames = 8192
	// autocheckpointFrames is the writer's own automatic checkpoint, inside
	// Commit: only a safety bound (128 MiB) for a WAL the background
	// checkpointer failed to restart, never reached in normal operation.
	autocheckpointFrames = 4 * restartFrames
)

// writerParams configures the single write connection: BEGIN IMMEDIATE so a
// transaction owns the write lock from its start, WAL with synchronous=FULL
// so every Commit is fsynced before it returns, a 64 MiB page cache for the
// unique indexes the inserts touch, and a cap on the WAL left after a
// checkpoint. Checkpoints run in the background (see checkpointLoop), off
// the commit path; the writer's automatic checkpoint stays only as a safety
// net for a WAL that reaches autocheckpointFrames anyway.
var writerParams = []string{
	"_txlock=immediate",
	fmt.Sprintf("_busy_timeout=%d", busyTimeoutMs),
	"_journal_mode=WAL",
	"_synchronous=FULL",
	"_pragma=cache_size(-65536)",
	"_pragma=journal_size_limit(67108864)",
	fmt.Sprintf("_pragma=wal_autocheckpoint(%d)", autocheckpointFrames),
}

// checkpointParams configures the checkpointer connection: synchronous=FULL
// makes a checkpoint fsync the main file before the WAL may be reused.
var checkpointParams = []string{
	fmt.Sprintf("_busy_timeout=%d", busyTimeoutMs),
	"_synchronous=FULL",
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
	ck   *sql.DB // exactly one connection: the checkpointer
	ws   [numWriteStmts]*sql.Stmt
	rs   [numReadStmts]*sql.Stmt

	dirty     atomic.Bool           // a Commit happened since the last checkpoint
	ckErr     atomic.Pointer[error] // last background checkpoint failure
	stop      chan struct{}
	loopDone  sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
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
	if _, err = Prepare(path); err != nil {
		return nil, err
	}
	s := &Store{path: path, stop: make(chan struct{})}
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

	if s.ck, err = sql.Open("sqlite", path+"?"+strings.Join(checkpointParams, "&")); err != nil {
		return nil, err
	}
	s.ck.SetMaxOpenConns(1)
	s.ck.SetMaxIdleConns(1)
	s.ck.SetConnMaxLifetime(0)
	s.ck.SetConnMaxIdleTime(0)
	if err = s.Checkpoint(ctx); err != nil {
		return nil, err
	}
	s.loopDone.Add(1)
	go s.checkpointLoop()
	return s, nil
}

// checkpointLoop copies committed WAL frames into the main database file in
// the background, so a Commit pays only for its own WAL append and fsync.
//
// A PASSIVE checkpoint on the checkpointer connection never blocks the
// writer or the readers, but under steady load the writer appends frames
// while it runs, so the WAL is never completely checkpointed when the next
// transaction starts, and SQLite restarts the WAL from its beginning only
// then. Left alone, the WAL would grow until the writer's automatic
// checkpoint ran inside a Commit. So once the WAL holds restartFrames, the
// loop also checkpoints on the writer connection, between two
// transactions: that copies only the frames committed since the first
// pass, and the next transaction then overwrites the WAL from the start.
// The writer waits for that short second pass (one fsync of the main file)
// in Begin, not in Commit.
func (s *Store) checkpointLoop() {
	defer s.loopDone.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if !s.dirty.Swap(false) {
				continue
			}
			logFrames, err := s.checkpoint(ctx, s.ck)
			if err == nil && logFrames >= restartFrames {
				_, err = s.checkpoint(ctx, s.w)
			}
			if err != nil {
				if ctx.Err() != nil {
					return // closing
				}
				s.ckErr.Store(&err)
				s.dirty.Store(true) // retry on the next tick
			} else {
				s.ckErr.Store(nil)
			}
		}
	}
}

// Checkpoint runs a PASSIVE WAL checkpoint now, copying every committed
// frame that no reader still needs into the main database file (fsynced).
// It never blocks the writer or readers; the background checkpointer calls
// it every 200 ms after commits, so callers need it only before a file-level
// backup. Safe for concurrent use.
func (s *Store) Checkpoint(ctx context.Context) error {
	_, err := s.checkpoint(ctx, s.ck)
	return err
}

// checkpoint runs a PASSIVE checkpoint on db's connection and returns the
// number of frames in the WAL. On the single writer connection it waits for
// an open transaction to end.
func (s *Store) checkpoint(ctx context.Context, db *sql.DB) (logFrames int, err error) {
	var busy, done int
	err = db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &done)
	if err != nil {
		return 0, wrap("checkpoint", err)
	}
	if done < logFrames {
		s.dirty.Store(true) // a reader pinned older frames, or new commits: finish later
	}
	return logFrames, nil
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

// FileMode is the permission of the database file Prepare creates. SQLite
// gives its -wal and -shm files the database file's permission bits, so
// they are owner-only too.
const FileMode fs.FileMode = 0o600

// DirMode is the permission of the directories Prepare creates.
const DirMode fs.FileMode = 0o700

// ExposedFile is a database file (the database, its -wal or -shm) that
// users other than its owner may read or write.
type ExposedFile struct {
	Path string
	Mode fs.FileMode
}

// Prepare makes path ready to be opened as a database without relying on
// the process umask: it creates the missing parent directories with
// DirMode and, when the file does not exist, an empty database file with
// FileMode (the database holds every private key). It does not change an
// existing file; it returns the existing database files that group or
// others may access, for the caller to warn about. Open calls it.
//
// Its errors wrap ErrDirectory (the directory is missing and cannot be
// created) or ErrCreate (the file cannot be created).
func Prepare(path string) ([]ExposedFile, error) {
	if path == "" || strings.ContainsRune(path, '?') || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, ErrBadPath
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrDirectory, dir, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, FileMode)
	switch {
	case err == nil:
		// O_CREATE applies the umask: set the exact mode.
		err = f.Chmod(FileMode)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("%w %s: %w", ErrCreate, path, err)
		}
		return nil, nil
	case !errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("%w %s: %w", ErrCreate, path, err)
	}
	var exposed []ExposedFile
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o077 != 0 {
			exposed = append(exposed, ExposedFile{Path: p, Mode: fi.Mode().Perm()})
		}
	}
	return exposed, nil
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

// Close stops the background checkpointer, waits for running statements,
// then closes the read pool and the writer; the writer closes last,
// checkpointing the WAL into the main file. Close waits for an open Tx to
// end, so end it first. Close is safe for concurrent use and idempotent (it
// returns the first call's result); the Store must not be used afterwards.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Store) close() error {
	close(s.stop)
	s.loopDone.Wait()
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
	if s.ck != nil {
		keep(s.ck.Close())
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
// pool, and reports the last background checkpoint failure, if the most
// recent checkpoint failed (a sign of a failing disk). It does not wait for
// an open Tx. Safe for concurrent use.
func (s *Store) Ping(ctx context.Context) error {
	var v int
	if err := s.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return wrap("ping", err)
	}
	if p := s.ckErr.Load(); p != nil {
		return wrap("ping", *p)
	}
	return nil
}

// Path returns the database file path given to Open. Safe for concurrent use.
func (s *Store) Path() string { return s.path }
