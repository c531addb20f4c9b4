package server

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// TestClockOffsetEnv names the test-only setting that shifts a node's clock
// (whole milliseconds, may be negative) for the revocation index, the
// issuer, the key ring and the audit writer: it lets an end-to-end test run
// a node whose clock is ahead of its peers' (MAX_CLOCK_SKEW_SECONDS). It is
// deliberately not part of the configuration: never set it in production.
const TestClockOffsetEnv = "REVOCD_TEST_CLOCK_OFFSET_MS"

// nodeClock returns the node's clock: time.Now, shifted by
// REVOCD_TEST_CLOCK_OFFSET_MS when that is set (logged as a warning).
func nodeClock(log *slog.Logger) (func() time.Time, error) {
	v, ok := os.LookupEnv(TestClockOffsetEnv)
	if !ok || strings.TrimSpace(v) == "" {
		return time.Now, nil
	}
	ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || ms < -3_600_000 || ms > 3_600_000 {
		return nil, fmt.Errorf("server: %s=%q: want whole milliseconds within one hour", TestClockOffsetEnv, v)
	}
	offset := time.Duration(ms) * time.Millisecond
	log.Warn("TEST CLOCK: this node's clock is shifted; for tests only", "env", TestClockOffsetEnv, "offset", offset)
	return func() time.Time { return time.Now().Add(offset) }, nil
}
