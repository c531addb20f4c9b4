package cluster

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"
	hremote "github.com/anthdm/hollywood/remote"
)

// remoteKind names the actor that holds the engine's deferred remote.
const remoteKind = "cluster-remote"

// NewEngine returns an actor engine with hollywood remoting on addr
// (mutual TLS when tlsCfg is set, MessageBufferSize frames). The address
// is checked at once, but the listener only starts when Start has
// registered the replicator: hollywood v1.0.5 accepts connections before
// its engine is fully built (a data race on dead letters) and would drop
// peer messages that arrive before the replicator exists.
func NewEngine(addr string, tlsCfg *tls.Config) (*actor.Engine, error) {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "0" || port == "" {
		return nil, fmt.Errorf("cluster: listen address %q: want host:port with a fixed port", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen on %s: %w", addr, err)
	}
	_ = ln.Close()
	rc := hremote.NewConfig().WithBufferSize(MessageBufferSize)
	if tlsCfg != nil {
		rc = rc.WithTLS(tlsCfg)
	}
	r := &deferredRemote{r: hremote.New(addr, rc)}
	e, err := actor.NewEngine(actor.NewEngineConfig().WithRemote(r))
	if err != nil {
		return nil, fmt.Errorf("cluster: actor engine: %w", err)
	}
	e.Spawn(func() actor.Receiver { return &remoteHolder{r: r} }, remoteKind, actor.WithID(ID))
	return e, nil
}

// deferredRemote is an actor.Remoter whose Start (called by NewEngine)
// only records the engine; listen starts hollywood's remote. Messages sent
// before that are dropped. Safe for concurrent use.
type deferredRemote struct {
	r       *hremote.Remote
	mu      sync.Mutex
	engine  *actor.Engine
	started atomic.Bool
	stopped bool
}

func (d *deferredRemote) Address() string { return d.r.Address() }

func (d *deferredRemote) Start(e *actor.Engine) error {
	d.mu.Lock()
	d.engine = e
	d.mu.Unlock()
	return nil
}

func (d *deferredRemote) listen() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.started.Load() || d.stopped {
		return nil
	}
	if err := d.r.Start(d.engine); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	d.started.Store(true)
	return nil
}

func (d *deferredRemote) Send(pid *actor.PID, msg any, sender *actor.PID) {
	if d.started.Load() {
		d.r.Send(pid, msg, sender)
	}
}

func (d *deferredRemote) Stop() *sync.WaitGroup {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	if !d.started.Load() {
		return &sync.WaitGroup{}
	}
	d.started.Store(false)
	return d.r.Stop()
}

// listenRequest asks the remoteHolder to start listening; the reply is
// a listenResult.
type listenRequest struct{}

type listenResult struct{ err error }

// remoteHolder owns the deferred remote: it starts it on request and
// stops it when the actor stops.
type remoteHolder struct{ r *deferredRemote }

func (h *remoteHolder) Receive(c *actor.Context) {
	switch c.Message().(type) {
	case listenRequest:
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

// listen starts the remote listener of an engine made by NewEngine.
func listen(e *actor.Engine) error {
	pid := e.Registry.GetPID(remoteKind, ID)
	if pid == nil {
		return errors.New("cluster: engine was not created by cluster.NewEngine")
	}
	res, err := e.Request(pid, listenRequest{}, 10*time.Second).Result()
	if err != nil {
		return fmt.Errorf("cluster: start listener: %w", err)
	}
	if r, ok := res.(listenResult); ok && r.err != nil {
		return r.err
	}
	return nil
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
