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
)

// Errors of Backup.
var (
	// ErrBackupExists: the backup file exists and overwriting was not asked.
	ErrBackupExists = errors.New("sqlitestore: backup file already exists")
	// ErrNoDatabase: the database to back up does not exist.
	ErrNoDatabase = errors.New("sqlitestore: database file does not exist")
)

// backupParams configures Backup's connection to the live database: it
// waits (like the node's own connections) for a checkpoint or a WAL
// recovery by another process. It cannot be query_only (SQLite refuses
// VACUUM INTO then), but it runs nothing but reads and VACUUM INTO.
var backupParams = []string{
	fmt.Sprintf("_busy_timeout=%d", busyTimeoutMs),
}

// Backup writes a consistent snapshot of the database at src to dst while
// other connections, in this or another process (a running node), keep
// committing. It runs VACUUM INTO on its own read-only connection: in WAL
// mode that is one read transaction, so the copy holds exactly the
// transactions committed when it started (every revocation acknowledged
// before Backup was called), never blocks the node's writer, and comes out
// compacted and self-contained (no -wal file to copy alongside).
//
// The copy is written to a temporary file (mode FileMode) in dst's
// directory (created with DirMode when missing), checked with PRAGMA
// quick_check, fsynced, then moved to dst. An existing dst is an error
// wrapping ErrBackupExists unless overwrite is set; a missing src wraps
// ErrNoDatabase (Backup never creates a database). Errors about dst's
// directory wrap ErrDirectory.
func Backup(ctx context.Context, src, dst string, overwrite bool) (err error) {
	if src == "" || strings.ContainsRune(src, '?') || strings.HasPrefix(src, "file:") || src == ":memory:" {
		return ErrBadPath
	}
	if fi, err := os.Stat(src); err != nil || !fi.Mode().IsRegular() {
		if err == nil {
			err = errors.New("not a regular file")
		}
		return fmt.Errorf("%w: %s: %w", ErrNoDatabase, src, err)
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return fmt.Errorf("%w %s: %w", ErrDirectory, dir, err)
	}
	for _, p := range []string{src, src + "-wal", src + "-shm", src + "-journal"} {
		if pi, err := os.Stat(p); err == nil {
			if di, err := os.Stat(dst); err == nil && os.SameFile(pi, di) {
				return fmt.Errorf("%w: %s is the database itself (or its WAL): never its own backup", ErrBackupExists, dst)
			}
		}
	}
	if _, err := os.Lstat(dst); err == nil && !overwrite {
		return fmt.Errorf("%w: %s (pass --force to overwrite it)", ErrBackupExists, dst)
	}
	tmpf, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return fmt.Errorf("%w %s: %w", ErrCreate, dir, err)
	}
	tmp := tmpf.Name()
	_ = tmpf.Close()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
			_ = os.Remove(tmp + "-wal")
			_ = os.Remove(tmp + "-shm")
			_ = os.Remove(tmp + "-journal")
		}
	}()
	if err := os.Chmod(tmp, FileMode); err != nil {
		return wrap("backup", err)
	}
	if err := vacuumInto(ctx, src, tmp); err != nil {
		return err
	}
	if err := checkBackup(ctx, tmp); err != nil {
		return err
	}
	if err := fsyncFile(tmp); err != nil {
		return wrap("backup", err)
	}
	if overwrite {
		err = os.Rename(tmp, dst)
	} else {
		// Link fails if dst appeared meanwhile: never overwrite it.
		if err = os.Link(tmp, dst); err == nil {
			err = os.Remove(tmp)
		} else if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s (pass --force to overwrite it)", ErrBackupExists, dst)
		}
	}
	if err != nil {
		return wrap("backup", err)
	}
	return wrap("backup", syncDir(dir))
}

// vacuumInto copies src into the empty file dst with one VACUUM INTO.
func vacuumInto(ctx context.Context, src, dst string) error {
	db, err := sql.Open("sqlite", src+"?"+strings.Join(backupParams, "&"))
	if err != nil {
		return wrap("backup: open", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return wrap("backup: read schema version", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("sqlitestore: backup: %w (version %d, this binary knows %d)", ErrSchemaTooNew, v, len(migrations))
	}
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return wrap("backup: vacuum into "+dst, err)
	}
	return wrap("backup: close", db.Close())
}

// checkBackup opens the copy and runs PRAGMA quick_check on it.
func checkBackup(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", path+"?_query_only=1")
	if err != nil {
		return wrap("backup: check", err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, "PRAGMA quick_check").Scan(&res); err != nil {
		return wrap("backup: check", err)
	}
	if res != "ok" {
		return fmt.Errorf("sqlitestore: backup: check: quick_check says %q", res)
	}
	return wrap("backup: check", db.Close())
}

func fsyncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
