package sqlitestore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/revocd/revocd/revocation"
)

// TestOpenCreatesOwnerOnlyFiles: a new database, its WAL and its
// shared-memory file are 0600 whatever the umask (they hold every private
// key), and missing directories are created 0700. With the driver's own
// file creation they were 0644.
func TestOpenCreatesOwnerOnlyFiles(t *testing.T) {
	old := syscall.Umask(0o022) // the usual umask, which let 0644 through
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "var", "lib", "revocd")
	path := filepath.Join(dir, "revocation.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	commit(t, s, func(tx *Tx) {
		if _, err := tx.InsertEvent(mkEvent("n", 1, 1, time.Now().Add(time.Hour).UnixMilli()), 1); err != nil {
			t.Fatal(err)
		}
	})
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(p), m)
		}
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o700 {
			t.Errorf("created directory %s: mode %v, want 0700", d, m)
		}
	}
}

func TestPrepareReportsExposedFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if ex, err := Prepare(path); err != nil || len(ex) != 0 {
		t.Fatalf("owner-only file: exposed=%v err=%v", ex, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	ex, err := Prepare(path)
	if err != nil || len(ex) != 1 || ex[0].Path != path || ex[0].Mode != 0o644 {
		t.Fatalf("0644 file: exposed=%v err=%v", ex, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Fatalf("Prepare changed an existing file's mode to %v", fi.Mode().Perm())
	}
}

func TestPrepareUncreatableDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "plain")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), filepath.Join(file, "sub", "r.db"))
	if !errors.Is(err, ErrDirectory) {
		t.Fatalf("err = %v, want ErrDirectory", err)
	}
}

// TestBackupWhileWriting: a backup taken while another connection keeps
// committing holds every transaction committed before Backup was called,
// is owner-only, opens cleanly, and is never written over without
// overwrite.
func TestBackupWhileWriting(t *testing.T) {
	s, src := openTest(t)
	exp := time.Now().Add(time.Hour).UnixMilli()
	var seq atomic.Uint64
	var mu sync.Mutex
	var acked []string // values committed so far
	write := func() {
		e := mkEvent("n", seq.Add(1), 1, exp)
		commit(t, s, func(tx *Tx) {
			if _, err := tx.InsertEvent(e, 1); err != nil {
				t.Error(err)
			}
		})
		mu.Lock()
		acked = append(acked, e.Value)
		mu.Unlock()
	}
	for range 200 {
		write()
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	midway := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100000; i++ {
			if i == 100 {
				close(midway)
			}
			select {
			case <-stop:
				return
			default:
				write()
			}
		}
	}()
	<-midway // the writer is still committing while the backup runs
	mu.Lock()
	before := append([]string(nil), acked...)
	mu.Unlock()
	dst := filepath.Join(t.TempDir(), "backups", "nested", "b.db")
	if err := Backup(context.Background(), src, dst, false); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-done

	fi, err := os.Stat(dst)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	if fi, err := os.Stat(filepath.Dir(dst)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("backup directory: %v %v", fi, err)
	}
	b, err := Open(context.Background(), dst)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	have := map[string]bool{}
	if err := b.ActiveRevocations(context.Background(), 0, func(e *revocation.Event) error { have[e.Value] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	for _, v := range before {
		if !have[v] {
			t.Fatalf("revocation %s committed before the backup is missing from it (%d of %d present)", v, len(have), len(before))
		}
	}

	if err := Backup(context.Background(), src, dst, false); !errors.Is(err, ErrBackupExists) {
		t.Fatalf("second backup to the same file: %v, want ErrBackupExists", err)
	}
	if err := Backup(context.Background(), src, dst, true); err != nil {
		t.Fatalf("overwrite: %v", err)
	}
	for _, self := range []string{src, src + "-wal"} {
		if err := Backup(context.Background(), src, self, true); !errors.Is(err, ErrBackupExists) {
			t.Fatalf("backup over %s with overwrite: %v, want ErrBackupExists", self, err)
		}
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("database after refused self-backup: %v", err)
	}
	if err := Backup(context.Background(), filepath.Join(t.TempDir(), "none.db"), dst+"2", false); !errors.Is(err, ErrNoDatabase) {
		t.Fatalf("missing source: %v", err)
	}
	if _, err := os.Stat(dst + "2"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a failed backup left %s", dst+"2")
	}
	entries, _ := os.ReadDir(filepath.Dir(dst))
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temporary file left behind: %s", e.Name())
		}
	}
}
