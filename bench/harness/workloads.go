package harness

import (
	"bytes"
	"fmt"
	"strconv"
)

// validateWorkload cycles through the token mix, each worker from its own
// offset, and checks every verdict.
type validateWorkload struct {
	mix *tokenMix
	// statusOnly accepts any 200 answer (the ceiling server's fixed body).
	statusOnly bool
}

func (w validateWorkload) NewWorker(id int) Worker {
	n := len(w.mix.cases)
	return &validateWorker{w: w, i: (id * 7919) % n}
}

type validateWorker struct {
	w    validateWorkload
	i    int
	last *tokenCase
}

func (v *validateWorker) Next() []byte {
	v.last = &v.w.mix.cases[v.i]
	v.i++
	if v.i == len(v.w.mix.cases) {
		v.i = 0
	}
	return v.last.body
}

func (v *validateWorker) Check(status int, body []byte) (int, error) {
	if v.w.statusOnly {
		if status != 200 || len(body) == 0 {
			return 1, fmt.Errorf("status %d: %.200s", status, body)
		}
		return 1, nil
	}
	return 1, checkVerdict(status, body, v.last.want, v.last.kind)
}

// batchWorkload sends batches of size tokens cut from the mix.
type batchWorkload struct {
	batches []batch
}

type batch struct {
	body []byte
	want []class
	kind []string
}

// newBatchWorkload prepares up to 16 distinct batches of size tokens.
func newBatchWorkload(mix *tokenMix, size int) batchWorkload {
	var w batchWorkload
	n := len(mix.cases)
	for b := range 16 {
		var bt batch
		var buf bytes.Buffer
		buf.WriteString(`{"tokens":[`)
		for i := range size {
			tc := &mix.cases[(b*size+i)%n]
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(strconv.Quote(tc.token))
			bt.want = append(bt.want, tc.want)
			bt.kind = append(bt.kind, tc.kind)
		}
		buf.WriteString(`],"check_revocation":true}`)
		bt.body = buf.Bytes()
		w.batches = append(w.batches, bt)
	}
	return w
}

func (w batchWorkload) NewWorker(id int) Worker {
	return &batchWorker{w: w, i: id % len(w.batches)}
}

type batchWorker struct {
	w    batchWorkload
	i    int
	last *batch
}

func (b *batchWorker) Next() []byte {
	b.last = &b.w.batches[b.i]
	b.i = (b.i + 1) % len(b.w.batches)
	return b.last.body
}

func (b *batchWorker) Check(status int, body []byte) (int, error) {
	return len(b.last.want), checkBatch(status, body, b.last.want, b.last.kind)
}

// revokeWorkload revokes a fresh UUID jti per request.
type revokeWorkload struct {
	run uint32
}

func (w revokeWorkload) NewWorker(id int) Worker {
	return &revokeWorker{run: w.run, id: uint32(id)}
}

type revokeWorker struct {
	run, id uint32
	seq     uint64
	buf     []byte
}

func (r *revokeWorker) Next() []byte {
	r.seq++
	// A well-formed UUID v4 string, unique per run, worker and request.
	r.buf = fmt.Appendf(r.buf[:0], `{"type":"revoke_jti","value":"%08x-%04x-4%03x-8%03x-%012x","ttl_seconds":3600}`,
		r.run, r.id&0xffff, (r.seq>>48)&0xfff, (r.seq>>36)&0xfff, r.seq&0xffffffffffff)
	return r.buf
}

var eventIDKey = []byte(`"event_id":"`)

func (r *revokeWorker) Check(status int, body []byte) (int, error) {
	if status != 200 || !bytes.Contains(body, eventIDKey) {
		return 0, fmt.Errorf("revoke: status %d: %.200s", status, body)
	}
	return 1, nil
}
