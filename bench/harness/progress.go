package harness

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// progress prints what the run is doing to stderr: on a terminal one line
// rewritten twice a second, otherwise a line per phase.
type progress struct {
	w     io.Writer
	tty   bool
	start time.Time

	mu   sync.Mutex
	stop chan struct{}
	wg   sync.WaitGroup
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

// logf prints a line (ending any live phase line first).
func (p *progress) logf(format string, args ...any) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "[%5.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// phase starts a timed phase; count, when not nil, is shown as a rate.
func (p *progress) phase(label string, d time.Duration, count *atomic.Int64) {
	if p == nil || p.w == nil {
		return
	}
	p.done()
	if !p.tty {
		p.logf("%s (%v)", label, d)
		return
	}
	p.stop = make(chan struct{})
	stop := p.stop
	begin := time.Now()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				p.mu.Lock()
				fmt.Fprint(p.w, "\r\033[K")
				p.mu.Unlock()
				return
			case <-t.C:
				el := time.Since(begin)
				line := fmt.Sprintf("\r\033[K[%5.1fs] %s  %4.1f/%.0fs", time.Since(p.start).Seconds(), label, el.Seconds(), d.Seconds())
				if count != nil {
					n := count.Load()
					line += fmt.Sprintf("  %d req  %.0f req/s", n, float64(n)/el.Seconds())
				}
				p.mu.Lock()
				fmt.Fprint(p.w, line)
				p.mu.Unlock()
			}
		}
	}()
}

// done ends the live phase line, if any.
func (p *progress) done() {
	if p == nil || p.stop == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	p.stop = nil
}
