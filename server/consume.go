package server

import (
	"context"
	"errors"
	"log/slog"

	"github.com/revocd/revocd/config"
)

// Consume runs the seed's consumer service: it reads the revocation topic,
// verifies every event's signature and writes the seed's Redis keys into
// REDIS_URL for services that read Redis directly.
func Consume(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	return errors.New("server: consume: not implemented yet")
}
