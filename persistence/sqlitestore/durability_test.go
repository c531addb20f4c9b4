package sqlitestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/revocd/revocd/revocation"
)

const (
	crashEnvDB   = "REVOCD_SQLITESTORE_CRASH_DB"
	crashEnvN    = "REVOCD_SQLITESTORE_CRASH_N"
	crashEnvOpen = "REVOCD_SQLITESTORE_CRASH_OPEN_TX"
)

// TestCrashChild is the child half of TestCrashDurability: it commits N
// events in batches and SIGKILLs its own process the moment the last Commit
// returns, optionally with a further transaction left uncommitted. It does
// nothing when run normally.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnvDB)
	if path == "" {
		t.Skip("child process of TestCrashDurability only")
	}
	n, _ := strconv.Atoi(os.Getenv(crashEnvN))
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 50
	for start := 1; start <= n; start += batch {
		tx, err := s.Begin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for seq := start; seq < start+batch && seq <= n; seq++ {
			if _, err := tx.InsertEvent(mkEvent("crash", uint64(seq), int64(seq), 1e15), 1); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if os.Getenv(crashEnvOpen) != "" {
		tx, err := s.Begin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for seq := n + 1; seq <= n+batch; seq++ {
			if _, err := tx.InsertEvent(mkEvent("crash", uint64(seq), int64(seq), 1e15), 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // never reached
}

// TestCrashDurability runs TestCrashChild in a re-executed test binary and
// checks that every event whose Commit returned survives the kill -9, and
// that an uncommitted transaction leaves no trace.
func TestCrashDurability(t *testing.T) {
	if os.Getenv(crashEnvDB) != "" {
		t.Skip("parent only")
	}
	for _, c := range []struct {
		name   string
		n      int
		openTx bool
	}{
		{"committed batches", 1037, false},
		{"with an open transaction", 500, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "crash.db")
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), crashEnvDB+"="+path, crashEnvN+"="+strconv.Itoa(c.n))
			if c.openTx {
				cmd.Env = append(cmd.Env, crashEnvOpen+"=1")
			}
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("child did not fail: %v\n%s", err, out)
			}
			if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child was not SIGKILLed: %v\n%s", err, out)
			}
			// The kill left the commits in the WAL: reopening must recover them.
			if _, err := os.Stat(path + "-wal"); err != nil {
				t.Fatalf("no WAL after the crash: %v", err)
			}

			s, err := Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var ic string
			if err := s.r.QueryRow("PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
				t.Fatalf("integrity_check = %q, %v", ic, err)
			}
			if n, err := s.CountEvents(context.Background()); err != nil || n != int64(c.n) {
				t.Fatalf("after crash: %d events, %v; want %d", n, err, c.n)
			}
			m, err := s.MaxSeqByOrigin(context.Background())
			if err != nil || m["crash"] != uint64(c.n) {
				t.Fatalf("MaxSeqByOrigin = %v, %v", m, err)
			}
			// The log continues after recovery.
			insertEvents(t, s, mkEvent("crash", uint64(c.n+1), 1, 1e15))
		})
	}
}

// TestConcurrentReadersDuringWrites checks, under -race, that committers
// serialize and that readers only ever see whole transactions.
func TestConcurrentReadersDuringWrites(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	const (
		writers = 2
		batches = 40
		perTx   = 25
	)
	var wg sync.WaitGroup
	done := make(chan struct{})
	errc := make(chan error, 16)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(origin string) {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				tx, err := s.Begin(ctx)
				if err != nil {
					errc <- err
					return
				}
				for i := 1; i <= perTx; i++ {
					if _, err := tx.InsertEvent(mkEvent(origin, uint64(b*perTx+i), 1, 1e15), 1); err != nil {
						errc <- err
						tx.Rollback()
						return
					}
				}
				if err := tx.Commit(); err != nil {
					errc <- err
					return
				}
			}
		}(fmt.Sprintf("w%d", w))
	}
	var rg sync.WaitGroup
	for r := 0; r < 3; r++ {
		rg.Add(1)
		go func() {
			defer rg.Done()
			var last int64
			for {
				select {
				case <-done:
					return
				default:
				}
				evs, err := s.EventsAfter(ctx, 0, writers*batches*perTx)
				if err != nil {
					errc <- err
					return
				}
				for i := 1; i < len(evs); i++ {
					if evs[i].ID <= evs[i-1].ID {
						errc <- fmt.Errorf("ids out of order: %d after %d", evs[i].ID, evs[i-1].ID)
						return
					}
				}
				if n := int64(len(evs)); n%perTx != 0 || n < last {
					errc <- fmt.Errorf("reader saw %d events (previously %d): partial transaction", n, last)
					return
				} else {
					last = n
				}
				m, err := s.MaxSeqByOrigin(ctx)
				if err != nil {
					errc <- err
					return
				}
				for o, v := range m {
					if v%perTx != 0 {
						errc <- fmt.Errorf("origin %s max seq %d: partial transaction", o, v)
						return
					}
				}
				active := 0
				if err := s.ActiveRevocations(ctx, 0, func(*revocation.Event) error { active++; return nil }); err != nil {
					errc <- err
					return
				}
				if active%perTx != 0 {
					errc <- fmt.Errorf("active scan saw %d events", active)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	rg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if n, err := s.CountEvents(ctx); err != nil || n != writers*batches*perTx {
		t.Fatalf("CountEvents = %d, %v", n, err)
	}
}
