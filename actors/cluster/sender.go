package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"
	hremote "github.com/anthdm/hollywood/remote"
	"storj.io/drpc/drpcconn"

	"github.com/revocd/revocd/transport/remote"
)

// Sender limits: the messages waiting for one peer's connection (beyond
// them a message is dropped and anti-entropy repairs the loss), how long a
// dial (TCP and TLS handshake) and a frame's write may take.
const (
	outQueue     = frameBatches + 8
	dialTimeout  = 3 * time.Second
	writeTimeout = 10 * time.Second
	// frameBudget is how many message bytes the sender packs into one
	// frame (a larger message goes alone). Small frames let the peer
	// decode and apply one while the next is on the wire, and keep a
	// Hello from waiting behind a whole resend round (hollywood packs
	// everything queued into one frame).
	frameBudget = 1 << 20
)

// outMsg is one message for a peer: a batch or a Hello. Messages are not
// modified once queued (Broadcast queues the same batch for every peer).
type outMsg struct {
	batch *remote.EventBatch
	hello *remote.Hello
	// announce is this node's sealed key announcement (Config.Announcement).
	announce []byte
}

// sendFailed reports to the replicator that the connection to a peer
// could not be opened or was lost, and how many queued messages were
// dropped.
type sendFailed struct {
	peer    string
	err     error
	dropped int
}

// sender is one peer's outgoing connection, in place of hollywood's
// stream router and writers, which dial synchronously on the router's
// goroutine (stalling sends to every peer for seconds) and, with TLS,
// crash the process after a dial that keeps failing (hollywood v1.0.5
// dereferences the nil *tls.Conn it wraps in a non-nil net.Conn). Its
// goroutine (run) dials when there is something to send, packs what is
// queued into small frames for the peer's replicator
// at its configured address and reports failures to the replicator
// (sendFailed). queue is safe for concurrent use and never blocks.
type sender struct {
	peer   string
	addr   string
	target *actor.PID // the peer's replicator
	self   *actor.PID // this node's replicator: the frames' sender, and where failures go
	tls    *tls.Config
	engine *actor.Engine
	log    *slog.Logger
	queue  chan outMsg
	carry  *encoded // taken from the queue but left for the next frame
}

// encoded is a queued message in its wire form.
type encoded struct {
	typ  int32 // index into sendTypes
	data []byte
}

// sendTypes are the type names of the frames' messages.
var sendTypes = []string{batchType, helloType, announceType}

func newSender(p *peer, self *actor.PID, tlsCfg *tls.Config, e *actor.Engine, log *slog.Logger) *sender {
	return &sender{
		peer: p.id, addr: p.addr, target: p.pid, self: self, tls: tlsCfg, engine: e, log: log,
		queue: make(chan outMsg, outQueue),
	}
}

// send queues m without blocking; it reports false when the queue is full
// and m was dropped.
func (s *sender) send(m outMsg) bool {
	select {
	case s.queue <- m:
		return true
	default:
		s.log.Debug("peer send queue full: message dropped", "peer", s.peer)
		return false
	}
}

// run sends queued messages until ctx ends. After a failed dial it drops
// what is queued (the replicator marks the peer down and stops sending
// until a probe finds it again).
func (s *sender) run(ctx context.Context, w *workers) {
	var c *senderConn
	defer func() {
		if c != nil {
			c.close()
		}
	}()
	for {
		if s.carry == nil {
			select {
			case <-ctx.Done():
				return
			case m := <-s.queue:
				enc, err := encode(m)
				if err != nil {
					s.log.Error("cluster: encode message", "peer", s.peer, "err", err)
					continue
				}
				s.carry = enc
			}
		}
		if c != nil && c.dead() {
			c.close()
			c = nil
		}
		if c == nil {
			var err error
			if c, err = s.dial(ctx, w); err != nil {
				s.fail(err)
				continue
			}
		}
		if err := c.write(s.frame()); err != nil {
			c.close()
			c = nil
			s.fail(err)
		}
	}
}

// fail drops the message in hand and everything queued, and reports.
func (s *sender) fail(err error) {
	dropped := 0
	if s.carry != nil {
		s.carry, dropped = nil, 1
	}
	for {
		select {
		case <-s.queue:
			dropped++
			continue
		default:
		}
		break
	}
	s.engine.Send(s.self, sendFailed{peer: s.peer, err: err, dropped: dropped})
}

// frame packs the message in hand and whatever else is queued, up to
// frameBudget bytes (well under MaxFrameBytes), into one envelope.
func (s *sender) frame() *hremote.Envelope {
	env := &hremote.Envelope{Senders: []*actor.PID{s.self}, Targets: []*actor.PID{s.target}, TypeNames: sendTypes}
	size := 0
	for s.carry != nil && (len(env.Messages) == 0 || size+len(s.carry.data) <= frameBudget) {
		env.Messages = append(env.Messages, &hremote.Message{Data: s.carry.data, TypeNameIndex: s.carry.typ})
		size += len(s.carry.data)
		s.carry = nil
		select {
		case m := <-s.queue:
			enc, err := encode(m)
			if err != nil {
				s.log.Error("cluster: encode message", "peer", s.peer, "err", err)
				continue
			}
			s.carry = enc
		default:
		}
	}
	return env
}

func encode(m outMsg) (*encoded, error) {
	switch {
	case m.batch != nil:
		b, err := m.batch.MarshalVT()
		return &encoded{typ: 0, data: b}, err
	case m.hello != nil:
		b, err := m.hello.MarshalVT()
		return &encoded{typ: 1, data: b}, err
	case m.announce != nil:
		return &encoded{typ: 2, data: m.announce}, nil
	}
	return nil, errors.New("empty message")
}

// senderConn is an open stream to a peer's receiver.
type senderConn struct {
	raw    net.Conn
	conn   *drpcconn.Conn
	stream hremote.DRPCRemote_ReceiveClient
	// closing is set when the sender closes the connection itself (it
	// reports why); the watcher reports only a loss it did not cause.
	closing atomic.Bool
}

// dial opens a connection (TLS when configured) and the remoting stream
// on it. A goroutine reports its loss by the peer to the replicator.
func (s *sender) dial(ctx context.Context, w *workers) (*senderConn, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	nd := &net.Dialer{}
	var (
		raw net.Conn
		err error
	)
	if s.tls != nil {
		raw, err = (&tls.Dialer{NetDialer: nd, Config: s.tls}).DialContext(dctx, "tcp", s.addr)
	} else {
		raw, err = nd.DialContext(dctx, "tcp", s.addr)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: dial %s: %w", s.addr, err)
	}
	conn := drpcconn.New(raw)
	stream, err := hremote.NewDRPCRemoteClient(conn).Receive(ctx)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("cluster: open stream to %s: %w", s.addr, err)
	}
	c := &senderConn{raw: raw, conn: conn, stream: stream}
	peer, self, e := s.peer, s.self, s.engine
	w.spawn(func() {
		select {
		case <-conn.Closed():
			if !c.closing.Load() {
				e.Send(self, sendFailed{peer: peer, err: errors.New("connection lost")})
			}
		case <-ctx.Done():
		}
	})
	return c, nil
}

func (c *senderConn) write(env *hremote.Envelope) error {
	if err := c.raw.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return fmt.Errorf("cluster: send: %w", err)
	}
	if err := c.stream.Send(env); err != nil {
		return fmt.Errorf("cluster: send: %w", err)
	}
	return nil
}

// dead reports whether the connection was closed (by the peer or an
// error).
func (c *senderConn) dead() bool {
	select {
	case <-c.conn.Closed():
		return true
	default:
		return false
	}
}

func (c *senderConn) close() {
	c.closing.Store(true)
	_ = c.conn.Close()
}
