package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnsureTopics creates cfg's revocation and token topics with the given
// number of partitions (the broker default if partitions <= 0) and the
// broker's default replication factor. A topic that already exists is left
// as it is, whatever its partition count. Safe for concurrent use.
func EnsureTopics(ctx context.Context, cfg Config, partitions int32) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if partitions <= 0 {
		partitions = -1
	}
	cl, err := kgo.NewClient(cfg.clientOpts()...)
	if err != nil {
		return fmt.Errorf("kafka: ensure topics: %w", err)
	}
	defer cl.Close()
	resps, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, -1, nil, cfg.RevocationTopic, cfg.TokenTopic)
	if err != nil {
		return fmt.Errorf("kafka: ensure topics: %w", err)
	}
	var errs []error
	for _, r := range resps.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("kafka: ensure topics: create %q: %w", r.Topic, r.Err))
		}
	}
	return errors.Join(errs...)
}
