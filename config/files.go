package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"net"
	"os"
	"strings"

	"github.com/revocd/revocd/crypto/eventsig"
)

// lookup returns the value variable was given (after defaults), "" for an
// unknown name.
func (c *Config) lookup(variable string) string { return c.raw[variable] }

// validateCluster checks CLUSTER_LISTEN, CLUSTER_PEERS and CLUSTER_TLS_*
// together, and reads the CLUSTER_TLS_* files when readFiles is set.
// CLUSTER_PEERS may list this node itself (the same value on every node):
// the entry whose id is NODE_ID is dropped here.
func (c *Config) validateCluster(readFiles bool) error {
	if c.ClusterListen != "" {
		if _, port, _ := net.SplitHostPort(c.ClusterListen); port == "0" {
			return Errorf("CLUSTER_LISTEN", "CLUSTER_LISTEN %q: want host:port with a fixed port (peers dial it)", c.ClusterListen)
		}
	}
	if len(c.ClusterPeers) > 0 && c.ClusterListen == "" {
		return Errorf("CLUSTER_PEERS", "CLUSTER_PEERS needs CLUSTER_LISTEN")
	}
	peers := c.ClusterPeers[:0:0]
	seen := map[string]bool{}
	for _, p := range c.ClusterPeers {
		switch {
		case seen[p.ID]:
			return Errorf("CLUSTER_PEERS", "CLUSTER_PEERS: peer %q listed twice", p.ID)
		case p.ID == c.NodeID:
			// This node's own entry.
		case p.Addr == c.ClusterListen:
			return Errorf("CLUSTER_PEERS", "CLUSTER_PEERS: peer %q has this node's CLUSTER_LISTEN address %s but NODE_ID is %q", p.ID, p.Addr, c.NodeID)
		default:
			peers = append(peers, p)
		}
		seen[p.ID] = true
	}
	c.ClusterPeers = peers

	vars := []struct{ name, val string }{
		{"CLUSTER_TLS_CERT", c.ClusterTLSCert}, {"CLUSTER_TLS_KEY", c.ClusterTLSKey}, {"CLUSTER_TLS_CA", c.ClusterTLSCA},
	}
	var set, missing []string
	for _, v := range vars {
		if v.val == "" {
			missing = append(missing, v.name)
		} else {
			set = append(set, v.name)
		}
	}
	switch {
	case len(set) == 0:
		return nil
	case len(missing) > 0:
		return Errorf(missing[0], "cluster TLS needs CLUSTER_TLS_CERT, CLUSTER_TLS_KEY and CLUSTER_TLS_CA together; missing %s", strings.Join(missing, ", "))
	case c.ClusterListen == "":
		return Errorf("CLUSTER_LISTEN", "CLUSTER_TLS_* are set but CLUSTER_LISTEN is not")
	case !readFiles:
		return nil
	}
	if err := checkKeyPair("CLUSTER_TLS_CERT", c.ClusterTLSCert, "CLUSTER_TLS_KEY", c.ClusterTLSKey); err != nil {
		return err
	}
	ca, err := os.ReadFile(c.ClusterTLSCA)
	if err != nil {
		return Errorf("CLUSTER_TLS_CA", "CLUSTER_TLS_CA: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(ca) {
		return Errorf("CLUSTER_TLS_CA", "CLUSTER_TLS_CA %s: no PEM certificate found", c.ClusterTLSCA)
	}
	return nil
}

// validateFiles reads and parses every file a variable names (but those of
// the variables in skip), so that a missing or broken file stops the start
// before anything listens.
func (c *Config) validateFiles(skip map[string]bool) error {
	if c.TLSCert != "" && !skip["TLS_CERT"] {
		if err := checkKeyPair("TLS_CERT", c.TLSCert, "TLS_KEY", c.TLSKey); err != nil {
			return err
		}
	}
	if skip["EVENT_TRUSTED_KEYS"] {
		return nil
	}
	return checkTrustedKeys(c.EventTrustedKeys)
}

// checkKeyPair loads a PEM certificate and its private key, naming the
// variable of the file that is unreadable or does not parse.
func checkKeyPair(certVar, certFile, keyVar, keyFile string) error {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return Errorf(certVar, "%s: %w", certVar, err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return Errorf(keyVar, "%s: %w", keyVar, err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return Errorf(certVar, "%s/%s (%s, %s): %w", certVar, keyVar, certFile, keyFile, err)
	}
	return nil
}

// checkTrustedKeys parses EVENT_TRUSTED_KEYS the way the node will: every
// @file must be readable and hold the /events/keys JSON, every key_id=BASE64
// must be a valid ML-DSA-65 public key.
func checkTrustedKeys(spec string) error {
	const name = "EVENT_TRUSTED_KEYS"
	v := eventsig.NewVerifier()
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
		case strings.HasPrefix(part, "@"):
			b, err := os.ReadFile(part[1:])
			if err != nil {
				return Errorf(name, "%s: %w", name, err)
			}
			if err := v.TrustJSON(b); err != nil {
				return Errorf(name, "%s %s: %w", name, part[1:], err)
			}
		default:
			id, b64, _ := strings.Cut(part, "=")
			pub, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return Errorf(name, "%s key %s: %w", name, id, err)
			}
			if err := v.Trust(id, pub); err != nil {
				return Errorf(name, "%s key %s: %w", name, id, err)
			}
		}
	}
	return nil
}
