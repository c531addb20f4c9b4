// Package readme runs the README's shell recipes as tests, so a README that
// drifts from the code fails CI.
//
// A recipe is a ```bash block of README.md preceded by a marker line
//
//	<!-- readme-test: NAME -->
//
// Blocks with the same NAME are concatenated in README order. Each name has a
// testscript file testdata/readme/NAME.txtar that runs the block (command
// `readme NAME`, or `readme-write NAME` to start it in the background) and
// asserts on what it did. The blocks are read from README.md itself on every
// run: editing the README changes what runs.
//
// The scripts run against bin/revocd and bin/revoctl built by the README's
// own `build` recipe (`make build`), on loopback ports chosen free per
// script. The README uses variables with copy-pasteable defaults for every
// address ($B, LISTEN_ADDR, HTTP_BASE, CLUSTER_BASE, REDIS_URL,
// KAFKA_BOOTSTRAP); the scripts set them.
//
// Commands the scripts have besides testscript's own: readme NAME...,
// readme-write NAME, ready URL (poll /ready), eventually REGEX CMD...,
// terminate (SIGTERM every process group the blocks started, and wait),
// redis (a redis-server on a free port), kafka (kfake in-process) and
// perm MODE FILE.
package readme

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/twmb/franz-go/pkg/kfake"
)

// repoRoot is the repository root (the parent of this package).
var repoRoot string

// binDir holds revocd and revoctl as built by the README's build recipe.
var binDir string

// blocks are the README's tagged shell blocks by name.
var blocks map[string]string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "readme:", err)
		return 1
	}
	repoRoot = root
	src, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "readme:", err)
		return 1
	}
	if blocks, err = parseBlocks(src); err != nil {
		fmt.Fprintln(os.Stderr, "readme:", err)
		return 1
	}
	build, ok := blocks["build"]
	if !ok {
		fmt.Fprintln(os.Stderr, "readme: README.md has no block tagged build")
		return 1
	}
	// The build recipe runs in the repository, as the README says.
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", build)
	cmd.Dir = repoRoot
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "readme: the README's build recipe failed:", err)
		return 1
	}
	binDir = filepath.Join(repoRoot, "bin")
	for _, b := range []string{"revocd", "revoctl"} {
		if _, err := os.Stat(filepath.Join(binDir, b)); err != nil {
			fmt.Fprintln(os.Stderr, "readme: the build recipe did not produce", err)
			return 1
		}
	}
	return m.Run()
}

// errMarker is a readme-test marker that is not followed by a bash block.
var errMarker = errors.New("readme-test marker not followed by a ```bash block")

var markerRE = regexp.MustCompile(`^<!-- readme-test: ([a-z0-9-]+) -->$`)

// parseBlocks returns README.md's tagged bash blocks by name.
func parseBlocks(src []byte) (map[string]string, error) {
	out := map[string]string{}
	lines := strings.Split(string(src), "\n")
	for i := 0; i < len(lines); i++ {
		m := markerRE.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			continue
		}
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
			j++
		}
		if j >= len(lines) || strings.TrimSpace(lines[j]) != "```bash" {
			return nil, fmt.Errorf("README.md:%d: %w", i+1, errMarker)
		}
		var b strings.Builder
		for j++; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
			b.WriteString(lines[j])
			b.WriteByte('\n')
		}
		if j >= len(lines) {
			return nil, fmt.Errorf("README.md:%d: unterminated block", i+1)
		}
		out[m[1]] += b.String()
		i = j
	}
	return out, nil
}

func TestReadme(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/readme",
		RequireExplicitExec: true,
		Setup:               setup,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"readme":       cmdReadme,
			"readme-write": cmdReadmeWrite,
			"ready":        cmdReady,
			"eventually":   cmdEventually,
			"terminate":    cmdTerminate,
			"redis":        cmdRedis,
			"kafka":        cmdKafka,
			"perm":         cmdPerm,
		},
	})
}

// TestReadmeRecipesHaveScripts fails when a tagged README block runs in no
// script, or a script names a block the README no longer has.
func TestReadmeRecipesHaveScripts(t *testing.T) {
	scripts, err := filepath.Glob("testdata/readme/*.txtar")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts in testdata/readme: %v", err)
	}
	used := map[string]bool{"build": true} // run by TestMain
	useRE := regexp.MustCompile(`(?m)^\s*!?\s*readme(?:-write)?((?: +[a-z0-9-]+)+)\s*$`)
	for _, s := range scripts {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range useRE.FindAllStringSubmatch(string(b), -1) {
			for _, name := range strings.Fields(m[1]) {
				if _, ok := blocks[name]; !ok {
					t.Errorf("%s runs README block %q, which README.md does not tag", s, name)
				}
				used[name] = true
			}
		}
	}
	for _, s := range scripts {
		b, _ := os.ReadFile(s)
		script, _, _ := strings.Cut(string(b), "\n-- ")
		if strings.Contains(script, "&\n") && !regexp.MustCompile(`(?m)^terminate$`).MatchString(script) {
			t.Errorf("%s starts a background process but never runs terminate", s)
		}
	}
	for name := range blocks {
		if !used[name] {
			t.Errorf("README.md block %q is tagged but no script in testdata/readme runs it", name)
		}
	}
	// The recipes issue #17 asks to cover.
	for _, name := range []string{"quick-start", "production", "admin-key", "config-precedence", "api-examples", "revoctl", "backup", "restore", "cluster"} {
		if _, ok := blocks[name]; !ok {
			t.Errorf("README.md has no block tagged %q", name)
		}
	}
}

// TestReadmePathsExist checks that every repository path the README names
// in inline code (`deploy/example.env`, `e2e/testdata/seed_*`) exists. A
// span counts as a repository path when it contains a slash and its first
// segment is a top-level entry of the repository (bin/, the build output,
// excepted); globs must match at least one file.
func TestReadmePathsExist(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	paths := readmePaths(string(src))
	if len(paths) < 10 {
		t.Fatalf("found only %d repository paths in README.md (%v): is the extraction broken?", len(paths), paths)
	}
	for _, p := range paths {
		matches, err := filepath.Glob(filepath.Join(repoRoot, filepath.FromSlash(p)))
		if err != nil || len(matches) == 0 {
			t.Errorf("README.md names %s, which does not exist in the repository", p)
		}
	}
}

// TestReadmeFacts checks statements of the README against the repository:
// the Go version it asks for is go.mod's, and it (and the Makefile's help)
// cites no document the repository does not hold.
func TestReadmeFacts(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	for _, v := range regexp.MustCompile(`Go (1\.[0-9.]+[0-9])`).FindAllSubmatch(readme, -1) {
		if string(v[1]) != string(m[1]) {
			t.Errorf("README.md says Go %s; go.mod needs %s", v[1], m[1])
		}
	}
	makefile, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	docRE := regexp.MustCompile(`\b([A-Z][A-Z_]+)(?:\.md)? §`)
	for name, b := range map[string][]byte{"README.md": readme, "Makefile": makefile} {
		for _, d := range docRE.FindAllSubmatch(b, -1) {
			if _, err := os.Stat(filepath.Join(repoRoot, string(d[1])+".md")); err != nil {
				t.Errorf("%s cites %s, which is not in the repository", name, d[0])
			}
		}
	}
}

// TestReadmeNamesExistingTests checks that every test the README cites as
// the proof of a protection (`TestName` in brackets, as in its Security
// section) is a test function of the repository: a renamed or deleted
// regression test must not leave the README pointing at nothing.
func TestReadmeNamesExistingTests(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	cited := regexp.MustCompile("\\[`(Test[A-Za-z0-9_]+)`\\]").FindAllSubmatch(readme, -1)
	if len(cited) < 10 {
		t.Fatalf("README.md cites only %d tests in brackets: is the Security section gone?", len(cited))
	}
	defined := map[string]bool{}
	funcRE := regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]+)\(`)
	err = filepath.WalkDir(repoRoot, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, "_test.go") {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range funcRE.FindAllSubmatch(b, -1) {
				defined[string(m[1])] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cited {
		if !defined[string(c[1])] {
			t.Errorf("README.md cites %s, which is no test function of the repository", c[1])
		}
	}
}

// readmePaths returns the inline-code spans of the README's prose (fenced
// blocks excluded) that name repository paths.
func readmePaths(src string) []string {
	var prose strings.Builder
	fenced := false
	for _, line := range strings.Split(src, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			prose.WriteString(line)
			prose.WriteByte('\n')
		}
	}
	spanRE := regexp.MustCompile("`([^`\n]+)`")
	var out []string
	seen := map[string]bool{}
	for _, m := range spanRE.FindAllStringSubmatch(prose.String(), -1) {
		p := strings.TrimRight(m[1], ".,:;")
		if !strings.Contains(p, "/") || strings.ContainsAny(p, " $={}|<>:?") || strings.HasPrefix(p, "/") {
			continue
		}
		first := strings.SplitN(p, "/", 2)[0]
		if first == "bin" || first == "" || first == "." || first == ".." {
			continue
		}
		if _, err := os.Stat(filepath.Join(repoRoot, first)); err != nil {
			continue // not a repository path (a MIME type, a URL path, ...)
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// setup gives every script free loopback addresses and the built binaries on
// PATH, and kills every process group the README's blocks started.
func setup(env *testscript.Env) error {
	env.Setenv("PATH", binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	env.Setenv("HOME", env.WorkDir)
	env.Setenv("REPO", repoRoot)
	port, err := freePorts(1)
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	env.Setenv("LISTEN_ADDR", addr)
	env.Setenv("B", "http://"+addr)
	// HTTP_BASE+1..3 and CLUSTER_BASE+1..3 are the cluster recipe's ports.
	for _, v := range []string{"HTTP_BASE", "CLUSTER_BASE"} {
		base, err := freePorts(3)
		if err != nil {
			return err
		}
		env.Setenv(v, strconv.Itoa(base-1))
	}
	work := env.WorkDir
	env.Defer(func() { killGroups(work) })
	return nil
}

// freePorts returns p such that p..p+n-1 were free loopback ports a moment
// ago.
func freePorts(n int) (int, error) {
	for try := 0; try < 100; try++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		base := ln.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{ln}
		ok := base+n-1 <= 65535
		for i := 1; ok && i < n; i++ {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+i))
			if err != nil {
				ok = false
				break
			}
			lns = append(lns, l)
		}
		for _, l := range lns {
			l.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, errors.New("readme: no run of free ports found")
}

// pgidsFile lists the process groups the README blocks started (one per
// line); blocks run under setsid and record their own pid, which is the
// group id.
const pgidsFile = ".pgids"

// writeBlock writes README blocks names to WORK/readme-NAME-....sh, after
// a line recording the shell's process group, and returns the file name.
func writeBlock(ts *testscript.TestScript, names ...string) string {
	script := `echo $$ >> "$WORK/` + pgidsFile + "\"\n"
	for _, name := range names {
		body, ok := blocks[name]
		if !ok {
			ts.Fatalf("README.md has no block tagged %q", name)
		}
		script += "# README.md block " + name + "\n" + body
	}
	file := ts.MkAbs("readme-" + strings.Join(names, "-") + ".sh")
	ts.Check(os.WriteFile(file, []byte(script), 0o600))
	return file
}

// cmdReadme runs README blocks NAME... (one after the other, in one shell,
// as a reader pasting them into one terminal would) with bash -euo pipefail
// in a process group of their own; stdout and stderr are kept for the next
// assertions.
func cmdReadme(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: readme NAME...")
	}
	file := writeBlock(ts, args...)
	err := ts.Exec("setsid", "-w", "bash", "-euo", "pipefail", file)
	switch {
	case err != nil && !neg:
		ts.Fatalf("README blocks %q failed: %v", args, err)
	case err == nil && neg:
		ts.Fatalf("README blocks %q succeeded unexpectedly", args)
	}
}

// cmdReadmeWrite writes README block NAME to readme-NAME.sh, to be started
// in the background with `exec setsid -w bash -euo pipefail readme-NAME.sh &`.
func cmdReadmeWrite(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: readme-write NAME")
	}
	writeBlock(ts, args[0])
}

// cmdReady waits until URL/ready answers 200 (deadline 30 s).
func cmdReady(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: ready URL")
	}
	url := strings.TrimSuffix(args[0], "/") + "/ready"
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	last := "no answer"
	for time.Now().Before(deadline) {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("%s not 200 within 30s: %s", url, last)
}

// cmdEventually re-runs a command until its stdout matches REGEX (deadline
// 15 s): for state that converges asynchronously (a cluster peer).
func cmdEventually(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: eventually REGEX CMD [ARGS...]")
	}
	re, err := regexp.Compile(args[0])
	ts.Check(err)
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := ts.Exec(args[1], args[2:]...)
		out := ts.ReadFile("stdout")
		if err == nil && re.MatchString(out) {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("no match for %q within 15s; last output %q (err %v)", args[0], out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cmdTerminate sends SIGTERM to every process group the blocks started and
// waits (20 s) until they are gone. Scripts that start a README block in the
// background end with it: testscript's own end-of-script interrupt reaches
// only the shell, not the server it waits for.
func cmdTerminate(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: terminate")
	}
	work := ts.Getenv("WORK")
	if left := signalGroups(work, syscall.SIGTERM, 20*time.Second); len(left) > 0 {
		ts.Fatalf("process groups %v still running 20s after SIGTERM", left)
	}
	if err := os.Remove(filepath.Join(work, pgidsFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		ts.Fatalf("%v", err)
	}
}

// cmdRedis starts redis-server on a free loopback port and exports its URL
// as REDIS_URL (it is killed when the script ends).
func cmdRedis(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: redis")
	}
	port, err := freePorts(1)
	ts.Check(err)
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		ts.Fatalf("redis-server not found (apt-get install -y redis-server, or scripts/test-deps.sh)")
	}
	dir := ts.MkAbs("redis")
	ts.Check(os.MkdirAll(dir, 0o700))
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	ts.Check(cmd.Start())
	ts.Defer(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") {
				break
			}
		}
		if time.Now().After(deadline) {
			ts.Fatalf("redis-server not answering on port %d", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Setenv("REDIS_URL", fmt.Sprintf("redis://127.0.0.1:%d/0", port))
}

// cmdKafka starts an in-process Kafka cluster (franz-go's kfake: the real
// protocol over loopback TCP) with the topics revocations and token-events,
// and exports its address as KAFKA_BOOTSTRAP (closed when the script ends).
func cmdKafka(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: kafka")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "revocations", "token-events"), kfake.AllowAutoTopicCreation())
	ts.Check(err)
	ts.Defer(c.Close)
	ts.Setenv("KAFKA_BOOTSTRAP", c.ListenAddrs()[0])
}

// cmdPerm asserts a file's permission bits: perm 0600 FILE.
func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: perm MODE FILE")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	ts.Check(err)
	fi, err := os.Stat(ts.MkAbs(args[1]))
	ts.Check(err)
	got := fi.Mode().Perm()
	if (got == os.FileMode(want)) == neg {
		ts.Fatalf("%s has mode %#o; want %s%#o", args[1], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

// killGroups kills every process group recorded in work/.pgids.
func killGroups(work string) {
	signalGroups(work, syscall.SIGTERM, 10*time.Second)
	signalGroups(work, syscall.SIGKILL, 5*time.Second)
}

// signalGroups signals the process groups in work/.pgids and waits up to
// wait for them to be gone; it returns those still alive.
func signalGroups(work string, sig syscall.Signal, wait time.Duration) []int {
	b, _ := os.ReadFile(filepath.Join(work, pgidsFile))
	var groups []int
	for _, f := range bytes.Fields(b) {
		if g, err := strconv.Atoi(string(f)); err == nil && g > 1 {
			groups = append(groups, g)
		}
	}
	for _, g := range groups {
		_ = syscall.Kill(-g, sig)
	}
	deadline := time.Now().Add(wait)
	for {
		groups = slices.DeleteFunc(groups, func(g int) bool { return !groupAlive(g) })
		if len(groups) == 0 || time.Now().After(deadline) {
			return groups
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// groupAlive reports whether process group g has a member that is not a
// zombie (an exited process its parent has not reaped yet).
func groupAlive(g int) bool {
	if syscall.Kill(-g, 0) != nil {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) >= 3 && f[2] == strconv.Itoa(g) && f[0] != "Z" {
			return true
		}
	}
	return false
}
