package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"
)

// remoteKind names the actor that holds the engine's deferred remote.
const remoteKind = "cluster-remote"

// NewEngine returns an actor engine with hollywood remoting on addr
// (mutual TLS when tlsCfg is set). The address is checked at once, but the
// listener only starts when Start has registered the replicator: hollywood
// v1.0.5 accepts connections before its engine is fully built (a data race
// on dead letters) and would drop peer messages that arrive before the
// replicator exists.
//
// The engine's remote is only an address: hollywood's remote is never
// started. Nodes receive with their own receiver and send with their own
// per-peer senders (sender.go); a message the engine is asked to send to
// another address is dropped.
func NewEngine(addr string, tlsCfg *tls.Config) (*actor.Engine, error) {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "0" || port == "" {
		return nil, fmt.Errorf("cluster: listen address %q: want host:port with a fixed port", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen on %s: %w", addr, err)
	}
	_ = ln.Close()
	r := &deferredRemote{addr: addr, tls: tlsCfg, recv: &receiver{self: PIDFor(addr)}}
	e, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(r))
	if err != nil {
		return nil, fmt.Errorf("cluster: actor engine: %w", err)
	}
	r.recv.engine = e
	e.Spawn(func() actor.Receiver { return &remoteHolder{r: r} }, remoteKind, actor.WithID(ID))
	return e, nil
}

// deferredRemote is an actor.Remoter whose Start (called by NewEngine)
// only records the engine; listen starts the node's own receiver on addr.
// Its Send drops messages: peers are sent to by senders. Safe for
// concurrent use.
type deferredRemote struct {
	addr string
	tls  *tls.Config
	recv *receiver

	mu      sync.Mutex
	engine  *actor.Engine
	started atomic.Bool
	stopped bool
	cancel  context.CancelFunc
	served  chan struct{} // closed when the receiver's server returned
}

func (d *deferredRemote) Address() string { return d.addr }

func (d *deferredRemote) Start(e *actor.Engine) error {
	d.mu.Lock()
	d.engine = e
	d.mu.Unlock()
	return nil
}

// listen starts the receiver on addr. hollywood's own Remote.Start is not
// used: its listener decodes whatever arrives, for any registered type and
// any local actor, and crashes the process on an envelope with an
// out-of-range index; its stream writers dial on the router's goroutine
// and, with TLS, crash the process after a dial that keeps failing.
func (d *deferredRemote) listen() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started.Load() || d.stopped {
		return nil
	}
	var (
		ln  net.Listener
		err error
	)
	if d.tls != nil {
		ln, err = net.Listen("tcp", d.addr)
		if err == nil {
			ln = &handshakeListener{Listener: ln, tls: d.tls, recv: d.recv}
		}
	} else {
		ln, err = net.Listen("tcp", d.addr)
	}
	if err != nil {
		return fmt.Errorf("cluster: listen on %s: %w", d.addr, err)
	}
	srv, err := d.recv.server()
	if err != nil {
		_ = ln.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel, d.served = cancel, make(chan struct{})
	go func() {
		defer close(d.served)
		if err := srv.Serve(ctx, ln); err != nil {
			d.recv.logger().Error("cluster listener failed", "addr", d.addr, "err", err)
		}
	}()
	d.started.Store(true)
	return nil
}

// Send implements actor.Remoter: it drops the message (see NewEngine).
func (d *deferredRemote) Send(*actor.PID, any, *actor.PID) {}

// Stop stops the receiver's listener and closes its connections; the
// returned group is done when they are.
func (d *deferredRemote) Stop() *sync.WaitGroup {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	wg := &sync.WaitGroup{}
	if !d.started.Load() {
		return wg
	}
	d.started.Store(false)
	d.cancel()
	wg.Add(1)
	go func() { <-d.served; wg.Done() }()
	return wg
}

// listenRequest asks the remoteHolder to start listening, with what counts
// and logs refused connections, frames and messages; the reply is a
// listenResult.
type listenRequest struct{ refusals *refusals }

// listenResult answers a listenRequest: nil when the listener runs.
type listenResult struct{ err error }

// remoteHolder owns the deferred remote: it starts it on request and
// stops it when the actor stops.
type remoteHolder struct{ r *deferredRemote }

func (h *remoteHolder) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case listenRequest:
		h.r.recv.setRefusals(m.refusals)
		c.Respond(listenResult{err: h.r.listen()})
	case actor.Stopped:
		wait := make(chan struct{})
		go func() { h.r.Stop().Wait(); close(wait) }()
		select {
		case <-wait:
		case <-time.After(closeTimeout):
		}
	}
}

// listen starts the remote listener of an engine made by NewEngine; f
// counts and logs what its receiver refuses.
func listen(e *actor.Engine, f *refusals) error {
	pid := e.Registry.GetPID(remoteKind, ID)
	if pid == nil {
		return errors.New("cluster: engine was not created by cluster.NewEngine")
	}
	res, err := e.Request(pid, listenRequest{refusals: f}, 10*time.Second).Result()
	if err != nil {
		return fmt.Errorf("cluster: start listener: %w", err)
	}
	r, ok := res.(listenResult)
	if !ok {
		return fmt.Errorf("cluster: start listener: unexpected reply %T", res)
	}
	return r.err
}

// stopListener stops the remote listener of an engine made by NewEngine
// and waits (bounded by done) for it.
func stopListener(e *actor.Engine, done <-chan struct{}) {
	if pid := e.Registry.GetPID(remoteKind, ID); pid != nil {
		select {
		case <-e.Poison(pid).Done():
		case <-done:
		}
	}
}
