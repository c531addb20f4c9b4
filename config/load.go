package config

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Variables describes one configuration variable for documentation.
type Variable struct {
	Env, Flag, Default, Usage string
}

// Variables returns every configuration variable with its flag, default and
// meaning, in documentation order.
func Variables() []Variable {
	out := make([]Variable, len(settings))
	for i, s := range settings {
		out[i] = Variable{Env: s.env, Flag: "--" + s.flagName(), Default: s.def, Usage: s.usage}
	}
	return out
}

// LoadOption changes how Load validates.
type LoadOption func(*loadOptions)

type loadOptions struct {
	serverSecrets bool
	required      []string
	skipFiles     map[string]bool // nil: check every file; else the variables whose files are not read
}

// WithoutServerSecrets skips the production checks of the token secret and
// admin API keys, for modes that neither issue tokens nor serve the admin
// API (`revocd consume`, `revocd event-key`).
func WithoutServerSecrets() LoadOption { return func(o *loadOptions) { o.serverSecrets = false } }

// SkipFileChecks makes Load leave unread the files of the named variables
// (TLS_CERT for TLS_CERT/TLS_KEY, CLUSTER_TLS_CERT for the CLUSTER_TLS_*
// files, EVENT_TRUSTED_KEYS for its @files); with no names, every file. For
// modes that do not use them: `revocd event-key` must run before the
// trusted-keys file it helps build exists.
func SkipFileChecks(vars ...string) LoadOption {
	return func(o *loadOptions) {
		o.skipFiles = map[string]bool{}
		if len(vars) == 0 {
			vars = []string{"TLS_CERT", "CLUSTER_TLS_CERT", "EVENT_TRUSTED_KEYS"}
		}
		for _, v := range vars {
			o.skipFiles[v] = true
		}
	}
}

// Require makes Load refuse an empty value for each named variable (e.g.
// `revocd consume` needs KAFKA_BOOTSTRAP, REDIS_URL and EVENT_TRUSTED_KEYS).
func Require(vars ...string) LoadOption {
	return func(o *loadOptions) { o.required = append(o.required, vars...) }
}

// Load parses args (without the program name) and getenv into a validated
// Config. fs receives the flags; its output is used for usage messages.
// A returned error wraps ErrInvalid or ErrInsecure and names the variable.
func Load(fs *flag.FlagSet, args []string, getenv func(string) string, opts ...LoadOption) (*Config, error) {
	lo := loadOptions{serverSecrets: true}
	for _, o := range opts {
		o(&lo)
	}
	values := make([]*string, len(settings))
	for i, s := range settings {
		values[i] = fs.String(s.flagName(), "", s.usage+" (env "+s.env+", default "+quoteDefault(s.def)+")")
	}
	dev := fs.Bool("dev", false, "development mode: allows the default secret and open admin endpoints")
	envFile := fs.String("env-file", "", "load variables from this .env file (process environment wins)")
	listen := fs.String("listen", "", "HTTP listen address (alias of --listen-addr)")
	if err := fs.Parse(args); err != nil {
		return nil, &Error{Err: err}
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })

	fileVars := map[string]string{}
	if *envFile != "" {
		f, err := os.Open(*envFile)
		if err != nil {
			return nil, &Error{Err: fmt.Errorf("--env-file: %w", err)}
		}
		fileVars, err = ParseEnvFile(f)
		f.Close()
		if err != nil {
			return nil, &Error{Err: fmt.Errorf("--env-file %s: %w", *envFile, err)}
		}
	}
	aliases := map[string]*string{"LISTEN_ADDR": listen}

	c := &Config{Dev: *dev, raw: make(map[string]string, len(settings))}
	for i, s := range settings {
		v, ok := s.def, false
		if fv, found := fileVars[s.env]; found {
			v = fv
		}
		if ev := getenv(s.env); ev != "" {
			v = ev
		}
		if explicit[s.flagName()] {
			v, ok = *values[i], true
		}
		if a := aliases[s.env]; a != nil && *a != "" && !ok {
			v = *a
		}
		c.raw[s.env] = v
		if err := s.apply(c, v); err != nil {
			return nil, &Error{Var: s.env, Err: fmt.Errorf("%s (--%s) = %q: %w", s.env, s.flagName(), v, err)}
		}
	}
	if err := c.validate(lo); err != nil {
		return nil, err
	}
	return c, nil
}

// validate checks what no single variable can: combinations, the files the
// variables name (readable and parseable, so that nothing fails after the
// node listens), the variables a mode requires, and the production
// refusals.
func (c *Config) validate(lo loadOptions) error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		v := "TLS_KEY"
		if c.TLSCert == "" {
			v = "TLS_CERT"
		}
		return Errorf(v, "TLS_CERT and TLS_KEY must be set together; %s is missing", v)
	}
	c.defaultPublicBaseURL()
	if c.MaxAccessTTL < c.AccessTTL {
		return Errorf("JWT_MAX_ACCESS_TOKEN_EXPIRE_MINUTES", "JWT_MAX_ACCESS_TOKEN_EXPIRE_MINUTES must be >= JWT_ACCESS_TOKEN_EXPIRE_MINUTES")
	}
	if err := c.validateCluster(!lo.skipFiles["CLUSTER_TLS_CERT"]); err != nil {
		return err
	}
	if err := c.validateFiles(lo.skipFiles); err != nil {
		return err
	}
	for _, v := range lo.required {
		if c.lookup(v) == "" {
			return Errorf(v, "%s is required in this mode and is not set", v)
		}
	}
	if c.Dev || !lo.serverSecrets {
		return nil
	}
	if c.JWTSecretKey == SeedDefaultSecret {
		return insecuref("JWT_SECRET_KEY", "JWT_SECRET_KEY is the public default; set JWT_SECRET_KEY to a secret of your own (e.g. `openssl rand -hex 32`) or run with --dev")
	}
	if len(c.JWTSecretKey) < 32 && c.JWTAlgorithm == "HS256" {
		return insecuref("JWT_SECRET_KEY", "JWT_SECRET_KEY is shorter than 32 characters; set a longer JWT_SECRET_KEY")
	}
	if c.ClusterSecret == DevClusterSecret {
		return insecuref("CLUSTER_SECRET", "CLUSTER_SECRET is the public --dev value; set CLUSTER_SECRET to a secret of your own (e.g. `openssl rand -hex 32`), the same on every node")
	}
	if len(c.ClusterPeers) > 0 && c.ClusterSecret == "" && c.EventTrustedKeys == "" {
		return insecuref("CLUSTER_SECRET", "CLUSTER_PEERS is set but the nodes cannot trust each other's events: set CLUSTER_SECRET (e.g. `openssl rand -hex 32`) to the same value on every node")
	}
	if len(c.AdminAPIKeys) == 0 {
		return insecuref("ADMIN_API_KEYS", "ADMIN_API_KEYS is empty; set ADMIN_API_KEYS to one or more comma-separated keys or run with --dev")
	}
	return nil
}

// ParseEnvFile reads KEY=VALUE lines. Blank lines and lines starting with #
// are ignored; an optional "export " prefix and matching single or double
// quotes around the value are removed.
func ParseEnvFile(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		s = strings.TrimPrefix(s, "export ")
		k, v, ok := strings.Cut(s, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d: want KEY=VALUE", line)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, errors.Join(fmt.Errorf("read: %w", err))
	}
	return out, nil
}

func quoteDefault(d string) string {
	if d == "" {
		return "unset"
	}
	return d
}
