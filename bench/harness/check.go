package harness

import (
	"bytes"
	"errors"
	"fmt"
)

// class is the verdict a token must get.
type class uint8

const (
	classValid   class = iota // valid=true, revoked=false
	classRevoked              // valid=false, revoked=true
	classInvalid              // valid=false, revoked=false (expired, forged)
)

func (c class) String() string {
	switch c {
	case classValid:
		return "valid"
	case classRevoked:
		return "revoked"
	}
	return "invalid"
}

var (
	keyValid   = []byte(`"valid":`)
	keyRevoked = []byte(`"revoked":`)
)

// classify reads the verdict object at the start of b without a full JSON
// decode (the load generator shares two cores with the server): it finds
// the top-level "valid" and "revoked" members, which may come in any order
// ({"valid",...,"revoked"} from revocd, sorted keys from encoding/json).
// It returns the class and the offset just past the object's "revoked"
// or "valid" value, whichever is later. The benchmark's claims never hold
// keys named "valid" or "revoked".
func classify(b []byte) (class, int, error) {
	vi := bytes.Index(b, keyValid)
	ri := bytes.Index(b, keyRevoked)
	if vi < 0 || ri < 0 {
		return 0, 0, fmt.Errorf("not a verdict: %.200q", b)
	}
	valid, err := boolAt(b, vi+len(keyValid))
	if err != nil {
		return 0, 0, err
	}
	revoked, err := boolAt(b, ri+len(keyRevoked))
	if err != nil {
		return 0, 0, err
	}
	end := max(vi+len(keyValid), ri+len(keyRevoked))
	switch {
	case valid && !revoked:
		return classValid, end, nil
	case !valid && revoked:
		return classRevoked, end, nil
	case !valid && !revoked:
		return classInvalid, end, nil
	}
	return 0, 0, errors.New("verdict says valid and revoked at once")
}

func boolAt(b []byte, i int) (bool, error) {
	switch {
	case bytes.HasPrefix(b[i:], []byte("true")):
		return true, nil
	case bytes.HasPrefix(b[i:], []byte("false")):
		return false, nil
	}
	return false, fmt.Errorf("bad boolean at %d: %.80q", i, b[i:])
}

// checkVerdict compares one answer with the expected class.
func checkVerdict(status int, body []byte, want class, what string) error {
	if status != 200 {
		return fmt.Errorf("%s: status %d: %.200s", what, status, body)
	}
	got, _, err := classify(body)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if got != want {
		return fmt.Errorf("%s: want %s, got %s: %.300s", what, want, got, body)
	}
	return nil
}

// checkBatch compares a batch answer {"results":[verdict,...]} with want,
// in order.
func checkBatch(status int, body []byte, want []class, what []string) error {
	if status != 200 {
		return fmt.Errorf("batch: status %d: %.200s", status, body)
	}
	rest, ok := bytes.CutPrefix(body, []byte(`{"results":[`))
	if !ok {
		return fmt.Errorf("batch: unexpected answer %.200q", body)
	}
	pos := 0
	for i, w := range want {
		start := bytes.Index(rest[pos:], keyValid)
		if start < 0 {
			return fmt.Errorf("batch: %d results, want %d", i, len(want))
		}
		start += pos
		// Each verdict ends where the next one's "valid" member starts.
		end := len(rest)
		if next := bytes.Index(rest[start+len(keyValid):], keyValid); next >= 0 {
			end = start + len(keyValid) + next
		}
		obj := rest[start:end]
		got, _, err := classify(obj)
		if err != nil {
			return fmt.Errorf("batch[%d]: %w", i, err)
		}
		if got != w {
			return fmt.Errorf("batch[%d] (%s): want %s, got %s: %.300s", i, what[i], w, got, obj)
		}
		pos = end
	}
	if bytes.Contains(rest[pos:], keyValid) {
		return fmt.Errorf("batch: more results than the %d tokens sent", len(want))
	}
	return nil
}
