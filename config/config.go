// Package config loads revocd's configuration from flags, environment
// variables and an optional .env file, validates every value once, up front,
// and reports errors that name the variable to fix.
//
// Precedence, highest first: command-line flag, process environment,
// --env-file, built-in default. Every environment variable has a flag whose
// name is the variable in lower case with dashes (SQLITE_PATH → --sqlite-path).
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// SeedDefaultSecret is the public default JWT secret of the seed product.
// It is accepted only in --dev mode.
const SeedDefaultSecret = "your-secret-key-change-in-production"

// DevClusterSecret is the public CLUSTER_SECRET of --dev nodes, so that
// dev clusters converge with no trust setup. It is refused outside --dev:
// a key announced under it is never trusted by a production node.
const DevClusterSecret = "revocd-dev-cluster-secret-not-for-production"

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("config: invalid configuration")

// ErrInsecure is wrapped by errors that refuse an insecure production
// configuration (seed default secret, no admin API key).
var ErrInsecure = errors.New("config: insecure configuration refused outside --dev")

// Config is the validated configuration of a revocd node. The zero value is
// not valid; obtain one from Load.
type Config struct {
	// Dev (--dev) allows the seed's default secret and open admin
	// endpoints, for development only.
	Dev bool
	// ListenAddr (LISTEN_ADDR) is the HTTP API's host:port.
	ListenAddr string

	// KafkaBootstrap (KAFKA_BOOTSTRAP) lists the brokers; empty: Kafka
	// bridge off.
	KafkaBootstrap string
	// KafkaTopic (KAFKA_TOPIC) is the revocation event topic.
	KafkaTopic string
	// KafkaAcceptUnsigned (KAFKA_ACCEPT_UNSIGNED_EVENTS) applies seed-era
	// unsigned revocation records of the topic, for fleets migrating from
	// the seed's service; off: they are dropped and counted.
	KafkaAcceptUnsigned bool
	// RefreshTokenTopic (REFRESH_TOKEN_TOPIC) is the token event topic.
	RefreshTokenTopic string
	// RedisURL (REDIS_URL) is the Redis mirror; empty: Redis mirror off.
	RedisURL string
	// SQLitePath (SQLITE_PATH) is the audit log's SQLite file.
	SQLitePath string

	// JWTSecretKey (JWT_SECRET_KEY) is the HS256 secret; the seed's
	// default is refused outside --dev.
	JWTSecretKey string
	// JWTAlgorithm (JWT_ALGORITHM) is the signing algorithm: HS256,
	// EdDSA, ES256 or ML-DSA-65.
	JWTAlgorithm string
	// AccessTTL (JWT_ACCESS_TOKEN_EXPIRE_MINUTES) is the default access
	// token lifetime.
	AccessTTL time.Duration
	// RefreshTTL (JWT_REFRESH_TOKEN_EXPIRE_DAYS) is the refresh token
	// lifetime.
	RefreshTTL time.Duration
	// MaxAccessTTL (JWT_MAX_ACCESS_TOKEN_EXPIRE_MINUTES) bounds the
	// expires_minutes a client may ask for.
	MaxAccessTTL time.Duration
	// JWTIssuer (JWT_ISSUER) is the "iss" of issued tokens, required on
	// validation.
	JWTIssuer string
	// Leeway (JWT_LEEWAY_SECONDS) is the clock-skew allowance of the
	// exp/nbf checks.
	Leeway time.Duration
	// MaxClockSkew (MAX_CLOCK_SKEW_SECONDS) bounds how far a node's clock
	// may run ahead of another's: a revoke_sub's cutoff is placed that far
	// ahead so it covers tokens issued anywhere before it.
	MaxClockSkew time.Duration
	// PQCSigningKeyID (PQC_SIGNING_KEY_ID) is the key id of this node's
	// ML-DSA-65 event-signing key.
	PQCSigningKeyID string
	// NonceTTL (NONCE_TTL_SECONDS) is the window in which a replayed event
	// id is dropped.
	NonceTTL time.Duration
	// AdminAPIKeys (ADMIN_API_KEYS) are the accepted "Authorization:
	// Bearer" keys of the admin endpoints; required outside --dev.
	AdminAPIKeys []string
	// FeedAPIKeys (FEED_API_KEYS) are read-only "Authorization: Bearer"
	// keys of the event stream and the active-revocations snapshot: a
	// resource server's in-process validator subscribes with one without
	// holding an admin key.
	FeedAPIKeys []string
	// OAuthClients (OAUTH_CLIENTS) are the OAuth clients registered for
	// /oauth2/introspect and /oauth2/revoke: client id to the SHA-256 of
	// its secret.
	OAuthClients map[string][32]byte
	// PublicBaseURL (PUBLIC_BASE_URL) is the URL clients reach the API
	// at, the issuer of the OAuth authorization server metadata (default:
	// http(s)://LISTEN_ADDR).
	PublicBaseURL string
	// DPoPNonceRequired (DPOP_NONCE_REQUIRED) makes the token endpoints
	// require a server nonce in DPoP proofs (RFC 9449 §8).
	DPoPNonceRequired bool
	// RefreshRotation (REFRESH_ROTATION) rotates refresh tokens on every
	// refresh, with reuse detection.
	RefreshRotation bool
	// RefreshReuseGrace (REFRESH_REUSE_GRACE_SECONDS) is how long a
	// just-rotated refresh token is still accepted (a client's retry).
	RefreshReuseGrace time.Duration
	// NodeID (NODE_ID) is this node's id in events and the cluster
	// (default: the hostname).
	NodeID string
	// MaxBodyBytes (MAX_BODY_BYTES) is the largest request body (413
	// beyond).
	MaxBodyBytes int
	// MaxBatchTokens (VALIDATE_BATCH_MAX) is the largest number of tokens
	// per batch validation.
	MaxBatchTokens int
	// RequestTimeout (REQUEST_TIMEOUT_MS) is the deadline of a request's
	// actor round trip.
	RequestTimeout time.Duration
	// ShutdownTimeout (SHUTDOWN_TIMEOUT_SECONDS) is the graceful shutdown
	// deadline.
	ShutdownTimeout time.Duration
	// PublishWait (PUBLISH_WAIT_MS) is how long POST /revoke waits for
	// Kafka's acknowledgement before answering published=false.
	PublishWait time.Duration
	// RedisSyncInterval (REDIS_SYNC_INTERVAL_SECONDS) is how often the
	// index reconciles with Redis (0: never).
	RedisSyncInterval time.Duration
	// LogFormat (LOG_FORMAT) is "text" or "json".
	LogFormat string
	// LogLevel (LOG_LEVEL) is debug, info, warn or error.
	LogLevel string
	// ClusterListen (CLUSTER_LISTEN) is the actor-remoting address;
	// empty: single node.
	ClusterListen string
	// ClusterPeers (CLUSTER_PEERS) are the other nodes.
	ClusterPeers []Peer
	// ClusterTLSCert (CLUSTER_TLS_CERT) is the PEM certificate for mutual
	// TLS between nodes.
	ClusterTLSCert string
	// ClusterTLSKey (CLUSTER_TLS_KEY) is its PEM private key.
	ClusterTLSKey string
	// ClusterTLSCA (CLUSTER_TLS_CA) is the PEM CA bundle peer
	// certificates must chain to.
	ClusterTLSCA string
	// ClusterSecret (CLUSTER_SECRET) authenticates the nodes' event-key
	// announcements: nodes sharing it trust each other's event-signing
	// keys, each for its own NODE_ID only. Empty in --dev: DevClusterSecret.
	ClusterSecret string
	// EventTrustedKeys (EVENT_TRUSTED_KEYS) are other nodes'
	// event-signature public keys (key_id=BASE64 and/or @file.json).
	EventTrustedKeys string
	// TLSCert (TLS_CERT) is the PEM certificate for HTTPS on the API
	// listener; empty: plain HTTP.
	TLSCert string
	// TLSKey (TLS_KEY) is its PEM private key.
	TLSKey string
	// RateLimitPerSecond (RATE_LIMIT_PER_SECOND) is the per-client (IP or
	// admin key) request rate on issuance, revocation and refresh; 0: no
	// limit.
	RateLimitPerSecond float64
	// RateLimitBurst (RATE_LIMIT_BURST) is the rate limiter's burst.
	RateLimitBurst int
	// ReadTimeout (HTTP_READ_TIMEOUT_SECONDS) is the deadline for reading
	// a whole request.
	ReadTimeout time.Duration
	// WriteTimeout (HTTP_WRITE_TIMEOUT_SECONDS) is the deadline for
	// writing a response.
	WriteTimeout time.Duration
	// IdleTimeout (HTTP_IDLE_TIMEOUT_SECONDS) is how long an idle
	// keep-alive connection stays open.
	IdleTimeout time.Duration
	// MaxHeaderBytes (MAX_HEADER_BYTES) bounds a request's head (431
	// beyond).
	MaxHeaderBytes int
	// KeyRotation (KEY_ROTATION_INTERVAL_HOURS) rotates the token signing
	// key on this schedule (0: only on demand).
	KeyRotation time.Duration

	// RedisStartupRequired (REDIS_STARTUP=require) keeps /token/validate
	// failing closed (503) until Redis's revocations are loaded; false
	// (best-effort) serves at once from the audit log's revocations.
	RedisStartupRequired bool

	raw map[string]string // every variable's value, by name (for Require)
}

// Peer is one entry of CLUSTER_PEERS ("id@host:port").
type Peer struct {
	ID   string
	Addr string
}

// setting describes one configuration variable.
type setting struct {
	env   string
	def   string
	usage string
	apply func(c *Config, v string) error
}

func (s setting) flagName() string {
	return strings.ReplaceAll(strings.ToLower(s.env), "_", "-")
}

// settings lists every variable in the order the README documents them.
var settings = []setting{
	{"LISTEN_ADDR", "127.0.0.1:8000", "HTTP listen address (host:port)", func(c *Config, v string) error {
		return hostPort(&c.ListenAddr, v)
	}},
	{"SQLITE_PATH", "./revocation.db", "SQLite audit log file", func(c *Config, v string) error {
		return nonEmpty(&c.SQLitePath, v)
	}},
	{"REDIS_URL", "", "Redis URL (redis://host:port/db); empty disables the Redis mirror", func(c *Config, v string) error {
		if v != "" {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix") || (u.Scheme != "unix" && u.Host == "") {
				return errors.New("want redis://host:port/db")
			}
		}
		c.RedisURL = v
		return nil
	}},
	{"KAFKA_BOOTSTRAP", "", "Kafka bootstrap brokers (host:port,...); empty disables the Kafka bridge", func(c *Config, v string) error {
		if v != "" {
			for _, b := range strings.Split(v, ",") {
				var tmp string
				if err := hostPort(&tmp, strings.TrimSpace(b)); err != nil {
					return err
				}
			}
		}
		c.KafkaBootstrap = v
		return nil
	}},
	{"KAFKA_TOPIC", "revocations", "Kafka topic for revocation events", func(c *Config, v string) error {
		return nonEmpty(&c.KafkaTopic, v)
	}},
	{"KAFKA_ACCEPT_UNSIGNED_EVENTS", "false", "apply seed-era unsigned revocation records found on KAFKA_TOPIC (migration only: whoever can write to the topic can then revoke)", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		c.KafkaAcceptUnsigned = b
		return err
	}},
	{"REFRESH_TOKEN_TOPIC", "token-events", "Kafka topic for token events", func(c *Config, v string) error {
		return nonEmpty(&c.RefreshTokenTopic, v)
	}},
	{"JWT_SECRET_KEY", SeedDefaultSecret, "HS256 signing secret (refused at its default outside --dev)", func(c *Config, v string) error {
		return nonEmpty(&c.JWTSecretKey, v)
	}},
	{"JWT_ALGORITHM", "HS256", "token signing algorithm: HS256, EdDSA, ES256 or ML-DSA-65", func(c *Config, v string) error {
		switch v {
		case "HS256", "EdDSA", "ES256", "ML-DSA-65":
			c.JWTAlgorithm = v
			return nil
		}
		return errors.New("want HS256, EdDSA, ES256 or ML-DSA-65")
	}},
	{"JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "30", "access token lifetime in minutes", func(c *Config, v string) error {
		return positiveInt(v, func(n int) { c.AccessTTL = time.Duration(n) * time.Minute })
	}},
	{"JWT_MAX_ACCESS_TOKEN_EXPIRE_MINUTES", "1440", "largest expires_minutes a client may ask for", func(c *Config, v string) error {
		return positiveInt(v, func(n int) { c.MaxAccessTTL = time.Duration(n) * time.Minute })
	}},
	{"JWT_REFRESH_TOKEN_EXPIRE_DAYS", "90", "refresh token lifetime in days", func(c *Config, v string) error {
		return positiveInt(v, func(n int) { c.RefreshTTL = time.Duration(n) * 24 * time.Hour })
	}},
	{"JWT_ISSUER", "p4-revocation-service", "iss claim of issued tokens, required on validation", func(c *Config, v string) error {
		return nonEmpty(&c.JWTIssuer, v)
	}},
	{"JWT_LEEWAY_SECONDS", "5", "clock-skew leeway for exp/nbf checks", func(c *Config, v string) error {
		return nonNegativeInt(v, func(n int) { c.Leeway = time.Duration(n) * time.Second })
	}},
	{"MAX_CLOCK_SKEW_SECONDS", "2", "bound on clock differences between nodes; a revoke_sub covers tokens issued up to this far ahead (0-60)", func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 || n > 60 {
			return errors.New("want a whole number from 0 to 60")
		}
		c.MaxClockSkew = time.Duration(n) * time.Second
		return nil
	}},
	{"PQC_SIGNING_KEY_ID", "p4-dilithium-key-1", "key id of this node's ML-DSA-65 event-signing key", func(c *Config, v string) error {
		return nonEmpty(&c.PQCSigningKeyID, v)
	}},
	{"NONCE_TTL_SECONDS", "180", "window in which a replayed event id is dropped", func(c *Config, v string) error {
		return positiveInt(v, func(n int) { c.NonceTTL = time.Duration(n) * time.Second })
	}},
	{"ADMIN_API_KEYS", "", "comma-separated admin API keys (Authorization: Bearer); required outside --dev", func(c *Config, v string) error {
		c.AdminAPIKeys = nil
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				if len(k) < 16 {
					return errors.New("each admin API key needs at least 16 characters")
				}
				c.AdminAPIKeys = append(c.AdminAPIKeys, k)
			}
		}
		return nil
	}},
	{"FEED_API_KEYS", "", "comma-separated read-only keys of GET /events/stream and /revocations/active (admin keys work too)", func(c *Config, v string) error {
		c.FeedAPIKeys = nil
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				if len(k) < 16 {
					return errors.New("each feed API key needs at least 16 characters")
				}
				c.FeedAPIKeys = append(c.FeedAPIKeys, k)
			}
		}
		return nil
	}},
	{"OAUTH_CLIENTS", "", "OAuth clients of /oauth2/introspect and /oauth2/revoke: comma list of client_id:SHA256HEX (hex SHA-256 of a random secret of at least 32 bytes) and/or @file.json", func(c *Config, v string) error {
		m, err := parseOAuthClients(v)
		c.OAuthClients = m
		return err
	}},
	{"PUBLIC_BASE_URL", "", "URL clients reach the API at, the issuer of /.well-known/oauth-authorization-server (default: http://LISTEN_ADDR, https with TLS_CERT)", func(c *Config, v string) error {
		u, err := parsePublicBaseURL(v)
		c.PublicBaseURL = u
		return err
	}},
	{"DPOP_NONCE_REQUIRED", "false", "token endpoints require a server nonce (DPoP-Nonce) in DPoP proofs", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		c.DPoPNonceRequired = b
		return err
	}},
	{"REFRESH_ROTATION", "true", "rotate refresh tokens on every refresh (reuse detection)", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		c.RefreshRotation = b
		return err
	}},
	{"REFRESH_REUSE_GRACE_SECONDS", "0", "seconds a just-rotated refresh token is still accepted (client retry)", func(c *Config, v string) error {
		return nonNegativeInt(v, func(n int) { c.RefreshReuseGrace = time.Duration(n) * time.Second })
	}},
	{"NODE_ID", "", "this node's id in events and the cluster (default: hostname)", func(c *Config, v string) error {
		if v == "" {
			h, err := os.Hostname()
			if err != nil || h == "" {
				h = "revocd"
			}
			v = h
		}
		c.NodeID = v
		return nil
	}},
	{"MAX_BODY_BYTES", "1048576", "largest accepted request body (413 beyond)", func(c *Config, v string) error {
		return positiveInt(v, func(n int) { c.MaxBodyBytes = n })
	}},
	{"VALIDATE_BATCH_MAX", "1000", "largest number of tokens per batch validation", func(c *Config, v string) error {
		return positiveInt(v, func(n int) { c.MaxBatchTokens = n })
	}},
	{"REQUEST_TIMEOUT_MS", "5000", "deadline for a request's actor round trip", func(c *Config, v string) error {
		return positiveInt(v, func(n int) { c.RequestTimeout = time.Duration(n) * time.Millisecond })
	}},
	{"SHUTDOWN_TIMEOUT_SECONDS", "15", "graceful shutdown deadline", func(c *Config, v string) error {
		return positiveInt(v, func(n int) { c.ShutdownTimeout = time.Duration(n) * time.Second })
	}},
	{"PUBLISH_WAIT_MS", "200", "how long POST /revoke waits for Kafka's ack before answering published=false", func(c *Config, v string) error {
		return nonNegativeInt(v, func(n int) { c.PublishWait = time.Duration(n) * time.Millisecond })
	}},
	{"REDIS_SYNC_INTERVAL_SECONDS", "5", "how often the index reconciles with Redis (0 disables)", func(c *Config, v string) error {
		return nonNegativeInt(v, func(n int) { c.RedisSyncInterval = time.Duration(n) * time.Second })
	}},
	{"REDIS_STARTUP", "auto", "with REDIS_URL: require (validation answers 503 until Redis's revocations are loaded; retried in the background) or best-effort (serve at once, without revocations that exist only in Redis); auto: require outside --dev, best-effort with --dev", func(c *Config, v string) error {
		switch v {
		case "require":
			c.RedisStartupRequired = true
		case "best-effort":
			c.RedisStartupRequired = false
		case "auto":
			c.RedisStartupRequired = !c.Dev
		default:
			return errors.New("want require, best-effort or auto")
		}
		return nil
	}},
	{"RATE_LIMIT_PER_SECOND", "0", "requests per second per client IP (or per admin key) on issuance, revocation and refresh; 0 disables", func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 {
			return errors.New("want a non-negative number")
		}
		c.RateLimitPerSecond = f
		return nil
	}},
	{"RATE_LIMIT_BURST", "50", "burst size of the rate limiter", func(c *Config, v string) error {
		return positiveInt(v, func(n int) { c.RateLimitBurst = n })
	}},
	{"HTTP_READ_TIMEOUT_SECONDS", "10", "deadline for reading a whole request (slow clients are dropped)", func(c *Config, v string) error {
		return positiveInt(v, func(n int) { c.ReadTimeout = time.Duration(n) * time.Second })
	}},
	{"HTTP_WRITE_TIMEOUT_SECONDS", "10", "deadline for writing a response", func(c *Config, v string) error {
		return positiveInt(v, func(n int) { c.WriteTimeout = time.Duration(n) * time.Second })
	}},
	{"HTTP_IDLE_TIMEOUT_SECONDS", "60", "how long an idle keep-alive connection stays open", func(c *Config, v string) error {
		return positiveInt(v, func(n int) { c.IdleTimeout = time.Duration(n) * time.Second })
	}},
	{"MAX_HEADER_BYTES", "12288", "largest request head (request line + headers); larger requests get 431 (an ML-DSA-65 DPoP proof header alone is about 8.2 KB)", func(c *Config, v string) error {
		return positiveInt(v, func(n int) { c.MaxHeaderBytes = n })
	}},
	{"KEY_ROTATION_INTERVAL_HOURS", "0", "rotate the token signing key on this schedule (0: only on demand)", func(c *Config, v string) error {
		return nonNegativeInt(v, func(n int) { c.KeyRotation = time.Duration(n) * time.Hour })
	}},
	{"LOG_FORMAT", "text", "log format: text or json", func(c *Config, v string) error {
		if v != "text" && v != "json" {
			return errors.New("want text or json")
		}
		c.LogFormat = v
		return nil
	}},
	{"LOG_LEVEL", "info", "log level: debug, info, warn, error", func(c *Config, v string) error {
		switch v {
		case "debug", "info", "warn", "error":
			c.LogLevel = v
			return nil
		}
		return errors.New("want debug, info, warn or error")
	}},
	{"CLUSTER_LISTEN", "", "actor-remoting listen address (host:port); empty: single node", func(c *Config, v string) error {
		if v == "" {
			c.ClusterListen = ""
			return nil
		}
		return hostPort(&c.ClusterListen, v)
	}},
	{"CLUSTER_PEERS", "", "comma list of peers id@host:port", func(c *Config, v string) error {
		c.ClusterPeers = nil
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			id, addr, ok := strings.Cut(p, "@")
			if !ok || id == "" {
				return fmt.Errorf("peer %q: want id@host:port", p)
			}
			var a string
			if err := hostPort(&a, addr); err != nil {
				return fmt.Errorf("peer %q: %w", p, err)
			}
			c.ClusterPeers = append(c.ClusterPeers, Peer{ID: id, Addr: a})
		}
		return nil
	}},
	{"CLUSTER_TLS_CERT", "", "PEM certificate for mutual TLS between nodes", func(c *Config, v string) error { c.ClusterTLSCert = v; return nil }},
	{"CLUSTER_TLS_KEY", "", "PEM private key for mutual TLS between nodes", func(c *Config, v string) error { c.ClusterTLSKey = v; return nil }},
	{"CLUSTER_TLS_CA", "", "PEM CA bundle that peer certificates must chain to", func(c *Config, v string) error { c.ClusterTLSCA = v; return nil }},
	{"CLUSTER_SECRET", "", "shared secret (>= 32 chars) authenticating the nodes' event-key announcements, over the cluster and on Kafka (revocd-node-key); required outside --dev with CLUSTER_PEERS unless EVENT_TRUSTED_KEYS is set", func(c *Config, v string) error {
		if v != "" && len(v) < 32 {
			return fmt.Errorf("is %d characters, want at least 32 (e.g. `openssl rand -hex 32`)", len(v))
		}
		c.ClusterSecret = v
		return nil
	}},
	{"EVENT_TRUSTED_KEYS", "", "event-signature public keys of other nodes: comma list of key_id=BASE64 and/or @file.json (the /events/keys format)", func(c *Config, v string) error {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" || strings.HasPrefix(part, "@") {
				continue
			}
			if id, key, ok := strings.Cut(part, "="); !ok || id == "" || key == "" {
				return fmt.Errorf("entry %q: want key_id=BASE64 or @file.json", part)
			}
		}
		c.EventTrustedKeys = v
		return nil
	}},
	{"TLS_CERT", "", "PEM certificate for HTTPS on the API listener", func(c *Config, v string) error { c.TLSCert = v; return nil }},
	{"TLS_KEY", "", "PEM private key for HTTPS on the API listener", func(c *Config, v string) error { c.TLSKey = v; return nil }},
}

func hostPort(dst *string, v string) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return errors.New("want host:port")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return errors.New("want a port between 0 and 65535")
	}
	_ = host
	*dst = v
	return nil
}

func nonEmpty(dst *string, v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("must not be empty")
	}
	*dst = v
	return nil
}

func positiveInt(v string, set func(int)) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return errors.New("want a positive whole number")
	}
	set(n)
	return nil
}

func nonNegativeInt(v string, set func(int)) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return errors.New("want a whole number >= 0")
	}
	set(n)
	return nil
}
