package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/anthdm/hollywood/actor"
	hremote "github.com/anthdm/hollywood/remote"
	"storj.io/drpc"
	"storj.io/drpc/drpcctx"
	"storj.io/drpc/drpcmanager"
	"storj.io/drpc/drpcmux"
	"storj.io/drpc/drpcserver"
	"storj.io/drpc/drpcwire"

	"github.com/revocd/revocd/transport/remote"
)

// Wire type names of the messages a replicator accepts.
var (
	batchType = string((&remote.EventBatch{}).ProtoReflect().Descriptor().FullName())
	helloType = string((&remote.Hello{}).ProtoReflect().Descriptor().FullName())
	// announceType is a node's key announcement: its data is the sealed
	// announcement itself (eventsig.SealAnnouncement), not a protobuf.
	announceType = "revocd.remote.KeyAnnouncement"
)

// Reasons a receiver refuses a frame or message
// (revocd_cluster_messages_rejected_total{reason}).
const (
	rejectFrameTooLarge   = "frame_too_large"
	rejectMessageTooLarge = "message_too_large"
	rejectBatchTooLarge   = "batch_too_large"
	rejectMalformed       = "malformed"
	rejectUnknownType     = "unknown_type"
	rejectUnknownTarget   = "unknown_target"
	rejectTLSHandshake    = "tls_handshake"
)

// refusals counts (revocd_cluster_messages_rejected_total) and logs what
// the receiver refuses. Safe for concurrent use.
type refusals struct {
	m   *metrics
	log *slog.Logger
}

// refused counts and logs a connection, frame or message refused from
// addr (size bytes; for a frame, the bound it exceeded). It runs on the
// connection's goroutine.
func (f *refusals) refused(reason, addr string, size int, err error) {
	f.m.rejected.WithLabelValues(reason).Inc()
	switch reason {
	case rejectFrameTooLarge, rejectMessageTooLarge, rejectBatchTooLarge:
		f.log.Warn("peer message refused: too large", "reason", reason, "from", addr, "bytes", size,
			"max_frame_bytes", MaxFrameBytes, "max_batch_bytes", MaxBatchBytes, "max_batch_events", MaxBatchEvents, "err", err)
	default:
		f.log.Debug("peer message refused", "reason", reason, "from", addr, "bytes", size, "err", err)
	}
}

// receiver serves hollywood's remoting protocol (drpc, one Envelope per
// frame) on the node's listen address in place of hollywood's own stream
// reader, so that it can bound and check what it decodes:
//
//   - a frame longer than MaxFrameBytes is refused by drpc while it is
//     read (it never buffers more than that) and the connection is closed;
//   - a message longer than MaxBatchBytes is refused before it is decoded,
//     an EventBatch with more than MaxBatchEvents events after;
//   - only EventBatch and Hello, addressed to the replicator, are decoded
//     and delivered; anything else, and envelope indices out of range, are
//     refused (hollywood's reader decodes any registered type for any local
//     actor and panics on a bad index).
//
// Messages are delivered as received, with the connection's address and
// TLS identity and without hollywood's sender PID, which the sender
// chooses freely. Every refusal is counted and logged through the
// refusals set by setRefusals. Safe for concurrent use.
type receiver struct {
	hremote.DRPCRemoteUnimplementedServer

	self     *actor.PID
	engine   *actor.Engine
	refusals atomic.Pointer[refusals]
}

// setRefusals installs what counts and logs refusals (before the listener
// starts).
func (r *receiver) setRefusals(f *refusals) { r.refusals.Store(f) }

func (r *receiver) logger() *slog.Logger {
	if f := r.refusals.Load(); f != nil {
		return f.log
	}
	return slog.Default()
}

func (r *receiver) refuse(reason, from string, size int, err error) {
	if f := r.refusals.Load(); f != nil {
		f.refused(reason, from, size, err)
	}
}

// invokeTimeout bounds how long a connection may stay open (TLS handshake
// included) without opening its stream; hollywood's stream writer opens it
// right after connecting.
const invokeTimeout = 10 * time.Second

// server returns the drpc server with the frame bound.
func (r *receiver) server() (*drpcserver.Server, error) {
	mux := drpcmux.New()
	if err := hremote.DRPCRegisterRemote(mux, r); err != nil {
		return nil, fmt.Errorf("cluster: register receiver: %w", err)
	}
	return drpcserver.NewWithOptions(mux, drpcserver.Options{
		Manager: drpcmanager.Options{
			Reader:            drpcwire.ReaderOptions{MaximumBufferSize: MaxFrameBytes},
			InactivityTimeout: invokeTimeout,
		},
	}), nil
}

// Receive implements hremote.DRPCRemoteServer: it serves one connection's
// stream until it ends or a frame is refused.
func (r *receiver) Receive(stream hremote.DRPCRemote_ReceiveStream) error {
	from, names := remoteAddr(stream.Context())
	for {
		env, err := stream.Recv()
		if err != nil {
			if isOverflow(err) {
				r.refuse(rejectFrameTooLarge, from, MaxFrameBytes, err)
			}
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("cluster: receive from %s: %w", from, err)
		}
		for _, msg := range env.GetMessages() {
			r.deliver(env, msg, from, names)
		}
	}
}

// deliver checks, decodes and hands one message to the replicator.
func (r *receiver) deliver(env *hremote.Envelope, msg *hremote.Message, from string, names []string) {
	if msg == nil {
		return
	}
	ti, tt := int(msg.GetTypeNameIndex()), int(msg.GetTargetIndex())
	if ti < 0 || ti >= len(env.GetTypeNames()) || tt < 0 || tt >= len(env.GetTargets()) {
		r.refuse(rejectMalformed, from, len(msg.GetData()), errors.New("index out of range"))
		return
	}
	if t := env.GetTargets()[tt]; t.GetID() != r.self.ID {
		r.refuse(rejectUnknownTarget, from, len(msg.GetData()), fmt.Errorf("target %q", t.GetID()))
		return
	}
	if len(msg.GetData()) > MaxBatchBytes {
		r.refuse(rejectMessageTooLarge, from, len(msg.GetData()), nil)
		return
	}
	switch tname := env.GetTypeNames()[ti]; tname {
	case batchType:
		b := &remote.EventBatch{}
		if err := b.UnmarshalVT(msg.GetData()); err != nil {
			r.refuse(rejectMalformed, from, len(msg.GetData()), err)
			return
		}
		if len(b.GetEvents()) > MaxBatchEvents {
			r.refuse(rejectBatchTooLarge, from, len(msg.GetData()), fmt.Errorf("%d events", len(b.GetEvents())))
			return
		}
		r.engine.SendLocal(r.self, batchReceived{batch: b, from: from, names: names}, nil)
	case helloType:
		h := &remote.Hello{}
		if err := h.UnmarshalVT(msg.GetData()); err != nil {
			r.refuse(rejectMalformed, from, len(msg.GetData()), err)
			return
		}
		r.engine.SendLocal(r.self, helloReceived{hello: h, from: from, names: names}, nil)
	case announceType:
		r.engine.SendLocal(r.self, announceReceived{data: append([]byte(nil), msg.GetData()...), from: from, names: names}, nil)
	default:
		r.refuse(rejectUnknownType, from, len(msg.GetData()), fmt.Errorf("type %q", tname))
	}
}

// isOverflow reports whether err is drpc refusing a frame beyond
// MaximumBufferSize. drpc (v0.0.33, drpcwire/reader.go) has no typed error
// or sentinel for it: it returns drpc.ProtocolError.New("data overflow"),
// an errs.Class error told apart from other protocol errors only by its
// text. So the class is checked with Has and the kind by that text;
// TestOversizeRefused catches a drpc upgrade that rewords it.
func isOverflow(err error) bool {
	return drpc.ProtocolError.Has(err) && strings.Contains(err.Error(), "data overflow")
}

// remoteAddr returns the address of the stream's connection, with the TLS
// client certificate's subject when there is one, and the names the
// certificate is valid for (DNS and IP SANs, and its CN): nil without TLS.
func remoteAddr(ctx context.Context) (string, []string) {
	tr, ok := drpcctx.Transport(ctx)
	if !ok {
		return "unknown", nil
	}
	c, ok := tr.(net.Conn)
	if !ok {
		return "unknown", nil
	}
	addr := c.RemoteAddr().String()
	var names []string
	if tc, ok := c.(interface{ ConnectionState() tls.ConnectionState }); ok {
		if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
			cert := certs[0]
			addr += " (" + cert.Subject.String() + ")"
			names = append(names, cert.DNSNames...)
			for _, ip := range cert.IPAddresses {
				names = append(names, ip.String())
			}
			if cert.Subject.CommonName != "" {
				names = append(names, cert.Subject.CommonName)
			}
			if names == nil {
				names = []string{}
			}
		}
	}
	return addr, names
}
