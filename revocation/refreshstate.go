package revocation

import (
	"encoding/json"
	"errors"
	"fmt"
)

// RefreshStateVersion is the version of the refresh_state payload this
// package writes and the only one it reads.
const RefreshStateVersion = 1

// MaxBindingHashLen bounds RefreshRow.BindingHash in bytes (an HMAC-SHA256
// is 32).
const MaxBindingHashLen = 64

// ErrBadRefreshState is returned by UnmarshalRefreshState and
// RefreshState.Validate for a payload that must not be applied.
var ErrBadRefreshState = errors.New("revocation: bad refresh_state payload")

// RefreshRow is one refresh token's replicated state: the columns of the
// refresh_tokens table that every node needs to rotate it, check its client
// binding and detect its reuse. Times are Unix milliseconds; RetiredAt is 0
// while the token is its family's live one, else ReplacedBy names its
// successor. BindingHash is the keyed hash of the client binding under the
// cluster-wide binding key (the same on every node).
type RefreshRow struct {
	JTI         string `json:"jti"`
	Subject     string `json:"sub"`
	Family      string `json:"family"`
	Parent      string `json:"parent,omitempty"`
	BindingHash []byte `json:"binding_hash"`
	IssuedAt    int64  `json:"issued_at"`
	ExpiresAt   int64  `json:"expires_at"`
	AccessJTI   string `json:"access_jti,omitempty"`
	RetiredAt   int64  `json:"retired_at,omitempty"`
	ReplacedBy  string `json:"replaced_by,omitempty"`
}

// RefreshState is the payload (Event.Data) of a TypeRefreshState event: a
// refresh token created or rotated on the event's origin node.
//
//   - Created: Token is the new family root (no Parent), nothing else.
//   - Rotated: Token is the successor, Parent the presented token as it is
//     after the rotation (retired, ReplacedBy = Token.JTI).
//   - Rotated again within the reuse grace period (a client retry of
//     Parent): Superseded is the successor issued for the first attempt,
//     retired in favour of Token (ReplacedBy = Token.JTI).
//
// The event's Value is Token.JTI and its ExpiresAt Token.ExpiresAt.
type RefreshState struct {
	V          int         `json:"v"`
	Token      RefreshRow  `json:"token"`
	Parent     *RefreshRow `json:"parent,omitempty"`
	Superseded *RefreshRow `json:"superseded,omitempty"`
}

// Marshal validates s and returns its JSON encoding (V is set to
// RefreshStateVersion).
func (s RefreshState) Marshal() ([]byte, error) {
	s.V = RefreshStateVersion
	if err := s.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("revocation: encode refresh state: %w", err)
	}
	if len(b) > MaxDataLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadRefreshState, len(b))
	}
	return b, nil
}

// UnmarshalRefreshState decodes and validates the payload of a
// TypeRefreshState event whose Value is jti. Every error wraps
// ErrBadRefreshState.
func UnmarshalRefreshState(data []byte, jti string) (RefreshState, error) {
	var s RefreshState
	if len(data) == 0 || len(data) > MaxDataLen {
		return s, fmt.Errorf("%w: %d bytes", ErrBadRefreshState, len(data))
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return RefreshState{}, fmt.Errorf("%w: %w", ErrBadRefreshState, err)
	}
	if err := s.Validate(); err != nil {
		return RefreshState{}, err
	}
	if s.Token.JTI != jti {
		return RefreshState{}, fmt.Errorf("%w: token jti %q is not the event value %q", ErrBadRefreshState, s.Token.JTI, jti)
	}
	return s, nil
}

// Validate checks that s is a payload a node may apply: the known version,
// bounded well-formed rows, and rows that describe one consistent step of
// one family (same subject and family, parent and successor linked both
// ways).
func (s *RefreshState) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadRefreshState}, args...)...)
	}
	if s.V != RefreshStateVersion {
		return bad("version %d, want %d", s.V, RefreshStateVersion)
	}
	t := &s.Token
	if err := t.validate("token"); err != nil {
		return err
	}
	if t.RetiredAt != 0 || t.ReplacedBy != "" {
		return bad("the new token is already retired")
	}
	if (s.Parent != nil) != (t.Parent != "") {
		return bad("token parent %q and parent row disagree", t.Parent)
	}
	if s.Superseded != nil && s.Parent == nil {
		return bad("superseded row without a parent")
	}
	for _, r := range []struct {
		name string
		row  *RefreshRow
	}{{"parent", s.Parent}, {"superseded", s.Superseded}} {
		if r.row == nil {
			continue
		}
		if err := r.row.validate(r.name); err != nil {
			return err
		}
		if r.row.Subject != t.Subject || r.row.Family != t.Family {
			return bad("%s row of another subject or family", r.name)
		}
		if r.row.RetiredAt == 0 || r.row.ReplacedBy != t.JTI {
			return bad("%s row is not retired into the token", r.name)
		}
	}
	if s.Parent != nil && s.Parent.JTI != t.Parent {
		return bad("parent row %q is not the token's parent %q", s.Parent.JTI, t.Parent)
	}
	if s.Superseded != nil && (s.Superseded.Parent != t.Parent || s.Superseded.JTI == t.JTI) {
		return bad("superseded row is not a sibling of the token")
	}
	return nil
}

func (r *RefreshRow) validate(name string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: "+format, append([]any{ErrBadRefreshState, name}, args...)...)
	}
	for _, f := range []struct {
		field, v string
		required bool
	}{{"jti", r.JTI, true}, {"sub", r.Subject, true}, {"family", r.Family, true}, {"parent", r.Parent, false},
		{"access_jti", r.AccessJTI, false}, {"replaced_by", r.ReplacedBy, false}} {
		if f.required && f.v == "" {
			return bad("%s empty", f.field)
		}
		if len(f.v) > MaxValueLen {
			return bad("%s longer than %d bytes", f.field, MaxValueLen)
		}
	}
	switch {
	case len(r.BindingHash) == 0 || len(r.BindingHash) > MaxBindingHashLen:
		return bad("binding_hash of %d bytes", len(r.BindingHash))
	case r.IssuedAt <= 0 || r.ExpiresAt <= r.IssuedAt:
		return bad("issued_at %d, expires_at %d", r.IssuedAt, r.ExpiresAt)
	case r.RetiredAt < 0 || (r.RetiredAt == 0) != (r.ReplacedBy == ""):
		return bad("retired_at %d with replaced_by %q", r.RetiredAt, r.ReplacedBy)
	case r.Parent == r.JTI || (r.ReplacedBy != "" && r.ReplacedBy == r.JTI):
		return bad("row refers to itself")
	}
	return nil
}
