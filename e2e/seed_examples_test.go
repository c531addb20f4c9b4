package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestSeedGuideExamples runs the seed guide's curl, Python and JavaScript
// client examples against the real server.
func TestSeedGuideExamples(t *testing.T) {
	n := startNode(t, "", nil)
	tests := []struct {
		name, tool, install string
		needs               []string
		args                []string
		want                []string
	}{
		{"curl", "bash", "apt-get install -y curl jq", []string{"bash", "curl", "jq"}, []string{"testdata/seed_curl.sh"},
			[]string{`"valid":true`, `"revoked":false`, `"event_id"`, `"published":false`, `"note"`, `{"ok": true}`}},
		{"python", "python3", "apt-get install -y python3-requests", []string{"python3"}, []string{"testdata/seed_client.py"}, []string{"Token is valid!", "Token revoked!"}},
		{"javascript", "node", "apt-get install -y nodejs", []string{"node"}, []string{"testdata/seed_client.mjs"}, []string{"Token is valid!", "Token revoked!"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, tool := range tc.needs {
				if _, err := exec.LookPath(tool); err != nil {
					t.Fatalf("%s not found: install it with `%s`", tool, tc.install)
				}
			}
			cmd := exec.Command(tc.tool, tc.args...)
			cmd.Env = append(cleanEnv(), "REVOCD_URL="+n.URL)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s example failed: %v\n%s", tc.name, err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("%s example output lacks %q:\n%s", tc.name, w, out)
				}
			}
		})
	}
}
