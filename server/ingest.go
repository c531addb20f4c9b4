package server

import (
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"github.com/anthdm/hollywood/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/revocd/revocd/actors/intake"
	"github.com/revocd/revocd/crypto/eventsig"
	"github.com/revocd/revocd/index"
)

// trustConfigured adds EVENT_TRUSTED_KEYS to v.
func trustConfigured(v *eventsig.Verifier, spec string) error {
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
		case strings.HasPrefix(part, "@"):
			b, err := os.ReadFile(part[1:])
			if err != nil {
				return fmt.Errorf("server: EVENT_TRUSTED_KEYS: %w", err)
			}
			if err := v.TrustJSON(b); err != nil {
				return fmt.Errorf("server: EVENT_TRUSTED_KEYS %s: %w", part[1:], err)
			}
		default:
			id, b64, _ := strings.Cut(part, "=")
			pub, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return fmt.Errorf("server: EVENT_TRUSTED_KEYS key %s: %w", id, err)
			}
			if err := v.Trust(id, pub); err != nil {
				return fmt.Errorf("server: EVENT_TRUSTED_KEYS key %s: %w", id, err)
			}
		}
	}
	return nil
}

// intakeDeps are what the intake actor needs from the node.
type intakeDeps struct {
	Origin   string
	Verifier *eventsig.Verifier
	Replay   *eventsig.ReplayGuard
	Index    *index.Index
	Engine   *actor.Engine
	Audit    *actor.PID
	Registry prometheus.Registerer
}

// startIntake spawns the node's intake actor (actors/intake), the one
// receive path of the Kafka consumer and the cluster, and returns the
// client both call it through.
func startIntake(d intakeDeps) (*actor.PID, intake.Client, error) {
	p, err := intake.New(intake.Options{
		Origin: d.Origin, Verifier: d.Verifier, Replay: d.Replay, Index: d.Index, Audit: d.Audit, Registerer: d.Registry,
	})
	if err != nil {
		return nil, intake.Client{}, fmt.Errorf("server: %w", err)
	}
	pid := d.Engine.Spawn(p, "intake")
	return pid, intake.Client{Engine: d.Engine, PID: pid}, nil
}
