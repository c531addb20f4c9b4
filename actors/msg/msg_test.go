package msg

import (
	"strings"
	"testing"
	"unicode"
)

// TestSentinelsArePackagePrefixed: the errors of the package follow the
// module's convention, a lowercase text with a package prefix, and are not
// written as the text clients see (transport/httpapi's errorTable maps
// them to that).
func TestSentinelsArePackagePrefixed(t *testing.T) {
	for _, err := range []error{ErrUnavailable, ErrRefreshUnknown, ErrRefreshRevoked, ErrBindingMismatch, ErrRefreshReused} {
		text := err.Error()
		prefix, rest, ok := strings.Cut(text, ": ")
		if !ok || (prefix != "msg" && prefix != "audit") || rest == "" || unicode.IsUpper([]rune(rest)[0]) {
			t.Errorf("sentinel %q: want \"msg: <lowercase text>\" (or audit: for ErrUnavailable)", text)
		}
	}
}
