package validator

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyFence: the SDK a resource server embeds stays light: no
// actor framework, no storage, no Kafka or Redis client, no server code.
func TestDependencyFence(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/anthdm/hollywood", "github.com/twmb/franz-go", "github.com/redis/",
		"modernc.org/sqlite", "github.com/mattn/go-sqlite3",
		"github.com/revocd/revocd/actors/", "github.com/revocd/revocd/persistence/",
		"github.com/revocd/revocd/server", "github.com/revocd/revocd/transport/",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("validator imports %s", dep)
			}
		}
	}
}
