package kafka

import "github.com/twmb/franz-go/pkg/kgo"

// HeaderNodeKey names the record header carrying the publishing node's
// sealed event-key announcement (eventsig.SealAnnouncement, the bytes a
// cluster node sends its peers): nodes that share only the topic and the
// cluster secret learn each other's keys from it, like a JWS x5c header.
// It rides on the records that carry HeaderBatchSig (once per batch and
// partition) and on signed format-1 records.
const HeaderNodeKey = "revocd-node-key"

// addNodeKey adds this node's announcement to r, if it has one.
func (p *Publisher) addNodeKey(r *kgo.Record) {
	if len(p.cfg.Announcement) > 0 {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: HeaderNodeKey, Value: p.cfg.Announcement})
	}
}

// announce hands r's HeaderNodeKey to Config.OnAnnouncement. A refusal is
// counted and logged at WARN, sampled (the 1st, 2nd, 4th, 8th... refusal):
// whoever can write to the topic can add headers.
func (c *Consumer) announce(r *kgo.Record) {
	if c.cfg.OnAnnouncement == nil {
		return
	}
	sealed, ok := header(r, HeaderNodeKey)
	if !ok {
		return
	}
	origin, _ := header(r, HeaderOrigin)
	if err := c.cfg.OnAnnouncement(string(origin), sealed); err != nil {
		if n := c.announceRefused.Add(1); n&(n-1) == 0 {
			c.log.Warn("kafka: consumer: refusing a record's node key announcement; that node's events stay unverifiable unless their key is trusted otherwise",
				"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "origin", string(origin), "refused_total", n, "err", err,
				"fix", "set CLUSTER_SECRET to the same value on every node sharing the topic")
		}
	}
}
