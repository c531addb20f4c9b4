package e2e

import (
	"debug/elf"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/revocd/revocd/config"
)

// Docker is not available here, so the compose stack cannot run; these tests
// check docker-compose.yml, the Dockerfile and deploy/ against the code
// instead, and prove the static build the image relies on.

// composeFile is the part of the compose schema the checks read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string         `yaml:"image"`
	Build       any            `yaml:"build"`
	Command     []string       `yaml:"command"`
	Environment envVars        `yaml:"environment"`
	Ports       []string       `yaml:"ports"`
	Volumes     []string       `yaml:"volumes"`
	DependsOn   dependsOn      `yaml:"depends_on"`
	Healthcheck map[string]any `yaml:"healthcheck"`
}

// envVars accepts both the map and the KEY=VALUE list forms.
type envVars map[string]string

// UnmarshalYAML implements yaml.Unmarshaler.
func (e *envVars) UnmarshalYAML(n *yaml.Node) error {
	*e = envVars{}
	if n.Kind == yaml.SequenceNode {
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			(*e)[k] = v
		}
		return nil
	}
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		return err
	}
	for k, v := range m {
		(*e)[k] = fmt.Sprint(v)
	}
	return nil
}

// dependsOn maps a dependency to its condition ("" in the list form).
type dependsOn map[string]string

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	if n.Kind == yaml.SequenceNode {
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		for _, s := range list {
			(*d)[s] = ""
		}
		return nil
	}
	var m map[string]struct {
		Condition string `yaml:"condition"`
	}
	if err := n.Decode(&m); err != nil {
		return err
	}
	for k, v := range m {
		(*d)[k] = v.Condition
	}
	return nil
}

func (s composeService) isRevocd() bool { return s.Image == "revocd:local" || s.Build != nil }

// volumeAt returns the source mounted at target, or "".
func (s composeService) volumeAt(target string) string {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == target {
			return parts[0]
		}
	}
	return ""
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

// requiredVar matches compose's ${NAME:?message} interpolation.
var requiredVar = regexp.MustCompile(`^\$\{([A-Z_]+):\?[^}]+\}$`)

// interpolate resolves ${NAME:?msg} with test values, as compose would with
// a filled-in .env.
func interpolate(t *testing.T, v string) string {
	t.Helper()
	if !strings.Contains(v, "${") {
		return v
	}
	m := requiredVar.FindStringSubmatch(v)
	if m == nil {
		t.Fatalf("value %q: use ${NAME:?message} so compose refuses to start without it", v)
	}
	return map[string]string{
		"JWT_SECRET_KEY": strings.Repeat("j", 64),
		"ADMIN_API_KEYS": "compose-admin-key-0123456789",
		"CLUSTER_SECRET": strings.Repeat("c", 64),
	}[m[1]]
}

var revocdNodes = []string{"node-a", "node-b", "node-c"}

func TestComposeServices(t *testing.T) {
	c := loadCompose(t)
	for _, name := range append([]string{"redis", "kafka", "consumer"}, revocdNodes...) {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("service %q missing", name)
		}
	}
	if _, ok := c.Services["zookeeper"]; ok {
		t.Error("Kafka must run in KRaft mode: no zookeeper service")
	}
	if img := c.Services["redis"].Image; !strings.HasPrefix(img, "redis:7") {
		t.Errorf("redis image %q, want redis:7*", img)
	}
	k := c.Services["kafka"].Environment
	if !strings.Contains(k["KAFKA_PROCESS_ROLES"], "controller") || !strings.Contains(k["KAFKA_PROCESS_ROLES"], "broker") {
		t.Errorf("kafka: KAFKA_PROCESS_ROLES=%q, want broker,controller (KRaft)", k["KAFKA_PROCESS_ROLES"])
	}
	if _, zk := k["KAFKA_ZOOKEEPER_CONNECT"]; zk {
		t.Error("kafka: KAFKA_ZOOKEEPER_CONNECT set in KRaft mode")
	}
	if k["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] != "true" {
		t.Error("kafka: topics must be auto-created")
	}
	for _, name := range []string{"redis", "kafka"} {
		if c.Services[name].Healthcheck["test"] == nil {
			t.Errorf("%s: no healthcheck (revocd nodes wait for service_healthy)", name)
		}
	}
	if cmd := c.Services["consumer"].Command; len(cmd) == 0 || cmd[0] != "consume" {
		t.Errorf("consumer command %q, want [consume] (revocd consume)", cmd)
	}
}

// TestComposeVariablesAreRevocdVariables checks every variable of every
// revocd service against config.Variables() and the built binary's --help,
// and that each service's whole environment passes config.Load.
func TestComposeVariablesAreRevocdVariables(t *testing.T) {
	known := map[string]bool{}
	for _, v := range config.Variables() {
		known[v.Env] = true
	}
	help, _ := exec.Command(binPath, "--help").CombinedOutput()
	c := loadCompose(t)
	for name, s := range c.Services {
		if !s.isRevocd() {
			continue
		}
		env := map[string]string{}
		for k, v := range s.Environment {
			if !known[k] {
				t.Errorf("%s: %s is not a revocd variable", name, k)
			}
			if flagName := "-" + strings.ReplaceAll(strings.ToLower(k), "_", "-"); !strings.Contains(string(help), flagName+" ") {
				t.Errorf("%s: `revocd --help` has no flag %s for %s", name, flagName, k)
			}
			env[k] = interpolate(t, v)
		}
		for _, k := range []string{"JWT_SECRET_KEY", "ADMIN_API_KEYS", "CLUSTER_SECRET"} {
			if !requiredVar.MatchString(s.Environment[k]) {
				t.Errorf("%s: %s must come from a required ${%s:?...} variable", name, k, k)
			}
		}
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		// The files it names (/keys/trusted.json) exist only in the
		// containers: check everything but them.
		if _, err := config.Load(fs, nil, func(k string) string { return env[k] }, config.SkipFileChecks()); err != nil {
			t.Errorf("%s: its environment does not load outside --dev: %v", name, err)
		}
	}
}

func TestComposeNodesWiring(t *testing.T) {
	c := loadCompose(t)
	nodeIDs, keyIDs, dataVols := map[string]string{}, map[string]bool{}, map[string]bool{}
	for i, name := range revocdNodes {
		s := c.Services[name]
		env := s.Environment
		for _, dep := range []string{"redis", "kafka"} {
			if cond, ok := s.DependsOn[dep]; !ok || cond != "service_healthy" {
				t.Errorf("%s: depends_on %s = %q, want condition service_healthy", name, dep, cond)
			}
		}
		if test := fmt.Sprint(s.Healthcheck["test"]); !strings.Contains(test, "ready") {
			t.Errorf("%s: healthcheck %q does not check /ready", name, test)
		}
		// Published port → LISTEN_ADDR's port.
		_, listenPort, err := net.SplitHostPort(env["LISTEN_ADDR"])
		if err != nil || !strings.HasPrefix(env["LISTEN_ADDR"], "0.0.0.0:") {
			t.Errorf("%s: LISTEN_ADDR %q, want 0.0.0.0:PORT", name, env["LISTEN_ADDR"])
		}
		if want := fmt.Sprintf("%d:%s", 8001+i, listenPort); !slices.Contains(s.Ports, want) {
			t.Errorf("%s: ports %q, want %q", name, s.Ports, want)
		}
		// Distinct identity and storage.
		if prev, dup := nodeIDs[env["NODE_ID"]]; dup || env["NODE_ID"] == "" {
			t.Errorf("%s: NODE_ID %q empty or shared with %s", name, env["NODE_ID"], prev)
		}
		nodeIDs[env["NODE_ID"]] = name
		if keyIDs[env["PQC_SIGNING_KEY_ID"]] || env["PQC_SIGNING_KEY_ID"] == "" {
			t.Errorf("%s: PQC_SIGNING_KEY_ID %q empty or shared", name, env["PQC_SIGNING_KEY_ID"])
		}
		keyIDs[env["PQC_SIGNING_KEY_ID"]] = true
		vol := s.volumeAt("/data")
		if vol == "" || dataVols[vol] {
			t.Errorf("%s: /data volume %q missing or shared", name, vol)
		}
		if _, declared := c.Volumes[vol]; !declared {
			t.Errorf("%s: volume %q not declared under volumes:", name, vol)
		}
		dataVols[vol] = true
		if !strings.HasPrefix(env["SQLITE_PATH"], "/data/") {
			t.Errorf("%s: SQLITE_PATH %q is not on the /data volume", name, env["SQLITE_PATH"])
		}
		checkHostRef(t, c, name, "REDIS_URL", redisHost(env["REDIS_URL"]), "redis")
		checkHostRef(t, c, name, "KAFKA_BOOTSTRAP", env["KAFKA_BOOTSTRAP"], "kafka")
	}
	// Cluster peers: every other node, by service name, on its CLUSTER_LISTEN port, under its NODE_ID.
	for _, name := range revocdNodes {
		env := c.Services[name].Environment
		var peers []string
		for _, p := range strings.Split(env["CLUSTER_PEERS"], ",") {
			id, addr, _ := strings.Cut(p, "@")
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				t.Errorf("%s: CLUSTER_PEERS entry %q: %v", name, p, err)
				continue
			}
			peer, ok := c.Services[host]
			if !ok {
				t.Errorf("%s: peer %q is not a service", name, host)
				continue
			}
			if _, lp, _ := net.SplitHostPort(peer.Environment["CLUSTER_LISTEN"]); lp != port {
				t.Errorf("%s: peer %s port %s, but its CLUSTER_LISTEN is %q", name, host, port, peer.Environment["CLUSTER_LISTEN"])
			}
			if peer.Environment["NODE_ID"] != id {
				t.Errorf("%s: peer %s has id %q in CLUSTER_PEERS but NODE_ID %q", name, host, id, peer.Environment["NODE_ID"])
			}
			peers = append(peers, host)
		}
		want := slices.DeleteFunc(slices.Clone(revocdNodes), func(n string) bool { return n == name })
		slices.Sort(peers)
		if !slices.Equal(peers, want) {
			t.Errorf("%s: CLUSTER_PEERS hosts %q, want %q", name, peers, want)
		}
	}
}

// TestComposeOneStep (issue #11): the stack starts from a filled-in .env
// alone: trust comes from CLUSTER_SECRET (every revocd service, the
// consumer included), so no service reads a hand-collected key file, none
// mounts deploy/keys, and deploy/keys is gone. The old stack needed
// EVENT_TRUSTED_KEYS=@/keys/trusted.json built by a key-collection step.
func TestComposeOneStep(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		if !s.isRevocd() {
			continue
		}
		if _, set := s.Environment["EVENT_TRUSTED_KEYS"]; set {
			t.Errorf("%s: sets EVENT_TRUSTED_KEYS (a hand-collected key file)", name)
		}
		if !requiredVar.MatchString(s.Environment["CLUSTER_SECRET"]) {
			t.Errorf("%s: CLUSTER_SECRET %q, want a required ${CLUSTER_SECRET:?...} from .env", name, s.Environment["CLUSTER_SECRET"])
		}
		for _, v := range s.Volumes {
			if strings.Contains(v, "deploy/keys") {
				t.Errorf("%s: mounts %s", name, v)
			}
		}
	}
	if _, err := os.Stat("../deploy/keys"); !os.IsNotExist(err) {
		t.Errorf("deploy/keys still exists (err %v): nothing needs collecting any more", err)
	}
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "event-key") || strings.Contains(string(b), "trusted.json") {
		t.Error("docker-compose.yml still describes a key-collection step")
	}
	// The .env the instructions produce: example.env with the three
	// secrets filled in, which compose interpolates.
	f, err := os.Open("../deploy/example.env")
	if err != nil {
		t.Fatal(err)
	}
	vars, err := config.ParseEnvFile(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"JWT_SECRET_KEY", "ADMIN_API_KEYS", "CLUSTER_SECRET"} {
		if v, listed := vars[k]; !listed || v != "" {
			t.Errorf("deploy/example.env: %s=%q, want an empty line to fill in", k, v)
		}
	}
}

// redisHost returns host:port of a redis:// URL.
func redisHost(u string) string {
	rest, _ := strings.CutPrefix(u, "redis://")
	host, _, _ := strings.Cut(rest, "/")
	return host
}

// checkHostRef checks that hostPort names service want on a port it listens on.
func checkHostRef(t *testing.T, c composeFile, name, variable, hostPort, want string) {
	t.Helper()
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil || host != want {
		t.Errorf("%s: %s %q does not point at service %s", name, variable, hostPort, want)
		return
	}
	if want == "kafka" && !strings.Contains(c.Services["kafka"].Environment["KAFKA_ADVERTISED_LISTENERS"], "//kafka:"+port) {
		t.Errorf("%s: %s port %s is not an advertised Kafka listener", name, variable, port)
	}
	if want == "redis" && port != "6379" {
		t.Errorf("%s: %s port %s, want 6379", name, variable, port)
	}
}

// TestDockerfile checks the Dockerfile against the repository and builds
// every command the way it does (CGO_ENABLED=0), proving the binaries are
// static.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	var entry []string
	var user, finalFrom string
	for _, line := range strings.Split(df, "\n") {
		switch {
		case strings.HasPrefix(line, "ENTRYPOINT "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "ENTRYPOINT ")), &entry); err != nil {
				t.Fatalf("ENTRYPOINT is not exec form: %v", err)
			}
		case strings.HasPrefix(line, "USER "):
			user = strings.TrimPrefix(line, "USER ")
		case strings.HasPrefix(line, "FROM "):
			finalFrom = strings.Fields(line)[1]
		}
	}
	if len(entry) != 1 || filepath.Base(entry[0]) != "revocd" {
		t.Errorf("ENTRYPOINT %q, want the revocd binary", entry)
	}
	if _, err := os.Stat(filepath.Join("..", "cmd", filepath.Base(entry[0]), "main.go")); err != nil {
		t.Errorf("ENTRYPOINT binary has no cmd/ package: %v", err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags="-s -w"`, "./cmd/revocd", "./cmd/revoctl", "EXPOSE 8000", "VOLUME /data", "FROM golang:1.26 "} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if !strings.HasPrefix(finalFrom, "gcr.io/distroless/static") || !strings.HasPrefix(user, "nonroot") {
		t.Errorf("final stage %s as %q, want distroless static as nonroot", finalFrom, user)
	}

	if testing.Short() {
		t.Skip("-short: skipping the CGO_ENABLED=0 build of ./cmd/...")
	}
	// Same flags as `make build`, so the build cache is shared with it.
	out := t.TempDir()
	build := exec.Command("go", "build", "-o", out+"/", "./cmd/...")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./cmd/...: %v\n%s", err, msg)
	}
	for _, bin := range []string{"revocd", "revoctl"} {
		f, err := elf.Open(filepath.Join(out, bin))
		if err != nil {
			t.Fatalf("%s: %v", bin, err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked (has an ELF interpreter)", bin)
			}
		}
		f.Close()
	}
}

// TestDeployExampleEnv checks deploy/example.env: only revocd variables, and
// it loads outside --dev once the two secrets are filled in.
func TestDeployExampleEnv(t *testing.T) {
	f, err := os.Open("../deploy/example.env")
	if err != nil {
		t.Fatal(err)
	}
	vars, err := config.ParseEnvFile(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, v := range config.Variables() {
		known[v.Env] = true
	}
	for k := range vars {
		if !known[k] {
			t.Errorf("deploy/example.env: %s is not a revocd variable", k)
		}
	}
	load := func(secrets map[string]string) error {
		fs := flag.NewFlagSet("example", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		_, err := config.Load(fs, []string{"--env-file", "../deploy/example.env"}, func(k string) string { return secrets[k] })
		return err
	}
	if err := load(nil); err == nil || !strings.Contains(err.Error(), "JWT_SECRET_KEY") {
		t.Errorf("unfilled example must refuse to start naming JWT_SECRET_KEY, got %v", err)
	}
	if err := load(map[string]string{"JWT_SECRET_KEY": strings.Repeat("x", 64), "ADMIN_API_KEYS": "example-admin-key-0123456789"}); err != nil {
		t.Errorf("filled example does not load: %v", err)
	}
}
