package main

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// service is a `connector run` process.
type service struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	log   bytes.Buffer
	ready chan struct{}
	done  chan error
}

func (s *service) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// startService runs `connector run ARGS` in dir and returns once it logged that it is
// ready.
func startService(tb testing.TB, dir string, args ...string) *service {
	tb.Helper()
	s := &service{ready: make(chan struct{}), done: make(chan error, 1)}
	s.cmd = exec.Command(connectorBin, append([]string{"run"}, args...)...)
	s.cmd.Dir = dir
	pipe, err := s.cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		once := sync.Once{}
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if strings.Contains(sc.Text(), "connector ready") {
				once.Do(func() { close(s.ready) })
			}
		}
		s.done <- s.cmd.Wait()
	}()
	select {
	case <-s.ready:
	case err := <-s.done:
		tb.Fatalf("connector run exited: %v\n%s", err, s.logs())
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		tb.Fatalf("connector run not ready\n%s", s.logs())
	}
	return s
}

// stop sends SIGTERM and waits for the exit.
func (s *service) stop(tb testing.TB) error {
	tb.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatal(err)
	}
	select {
	case err := <-s.done:
		return err
	case <-time.After(60 * time.Second):
		s.cmd.Process.Kill()
		tb.Fatalf("connector run ignored SIGTERM\n%s", s.logs())
		return nil
	}
}

// copyExample copies examples/connector.hcl and its example certificates into a
// fresh directory.
func copyExample(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, f := range []string{"connector.hcl", "tls/EXAMPLE-ca.pem", "tls/EXAMPLE-server.pem", "tls/EXAMPLE-server.key"} {
		b, err := os.ReadFile(filepath.Join("../../examples", f))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o750); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o640); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

var pluginPID = regexp.MustCompile(`msg="plugin started".* pid=(\d+)`)

// The service as users run it: two `connector run` processes of the example exchange a
// file with its EERP, and SIGTERM stops each cleanly with its plugin processes.
func TestRunServiceExample(t *testing.T) {
	dir := copyExample(t)
	pa, pb := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	ports := []string{"-var", "port_a=" + pa, "-var", "port_b=" + pb}
	a := startService(t, dir, append(ports, "connector.hcl")...)
	b := startService(t, dir, append(ports, "-var", "side=b", "connector.hcl")...)
	defer func() {
		if t.Failed() {
			t.Logf("a:\n%s\nb:\n%s", a.logs(), b.logs())
		}
	}()
	data := bytes.Repeat([]byte("UNH+1+ORDERS:D:96A:UN'\r\n"), 20000)
	tmp := filepath.Join(dir, "a/outbox/.ORDERS.tmp")
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "a/outbox/ORDERS.EDI")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err1 := os.Stat(filepath.Join(dir, "b/inbox/O0013EXAMPLEA/ORDERS.EDI"))
		_, err2 := os.Stat(filepath.Join(dir, "a/outbox/sent/ORDERS.EDI"))
		if err1 == nil && err2 == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("file not delivered and acknowledged (inbox: %v, sent: %v)", err1, err2)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got, err := os.ReadFile(filepath.Join(dir, "b/inbox/O0013EXAMPLEA/ORDERS.EDI"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("received %d bytes (%v), want %d", len(got), err, len(data))
	}
	for name, s := range map[string]*service{"a": a, "b": b} {
		pids := pluginPID.FindAllStringSubmatch(s.logs(), -1)
		if len(pids) != 2 {
			t.Errorf("%s: %d plugin processes logged, want 2", name, len(pids))
		}
		if err := s.stop(t); err != nil {
			t.Errorf("%s: exit after SIGTERM: %v\n%s", name, err, s.logs())
		}
		if !strings.Contains(s.logs(), "msg=stopped") {
			t.Errorf("%s: no clean stop logged", name)
		}
		for _, m := range pids {
			pid, _ := strconv.Atoi(m[1])
			// Signal 0 probes the process; it must be gone (reaped by the connector).
			if err := syscall.Kill(pid, 0); err == nil {
				t.Errorf("%s: plugin process %d still runs after the connector stopped", name, pid)
			}
		}
	}
}

// BenchmarkRunStartup measures `connector run` from exec to "connector ready" (both
// bundled plugin processes started, described and configured, listener bound).
func BenchmarkRunStartup(b *testing.B) {
	dir := copyExample(b)
	port := strconv.Itoa(freePortB(b))
	for b.Loop() {
		s := startService(b, dir, "-var", "port_a="+port, "connector.hcl")
		b.StopTimer()
		if err := s.stop(b); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

func freePortB(b *testing.B) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// countFiles counts the visible files directly in dir (sidecars and records excluded).
func countFiles(dir string) int {
	entries, _ := os.ReadDir(dir)
	n := 0
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") && !strings.HasSuffix(e.Name(), ".json") {
			n++
		}
	}
	return n
}

// kill -9 of either connector in the middle of the work loses no file and stores none
// twice: after a restart every file arrives once and every EERP comes back.
func TestRunSurvivesKill9(t *testing.T) {
	dir := copyExample(t)
	pa, pb := strconv.Itoa(freePort(t)), strconv.Itoa(freePort(t))
	args := func(side string) []string {
		return []string{"-retry-interval", "1s", "-var", "port_a=" + pa, "-var", "port_b=" + pb, "-var", "side=" + side, "connector.hcl"}
	}
	a := startService(t, dir, args("a")...)
	b := startService(t, dir, args("b")...)
	const files = 6
	want := map[string][]byte{}
	for i := range files {
		name := "F" + strconv.Itoa(i) + ".DAT"
		data := bytes.Repeat([]byte{byte('A' + i)}, 8<<20+i)
		want[name] = data
		tmp := filepath.Join(dir, "a/outbox/."+name)
		if err := os.WriteFile(tmp, data, 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "a/outbox", name)); err != nil {
			t.Fatal(err)
		}
	}
	inbox := filepath.Join(dir, "b/inbox/O0013EXAMPLEA")
	sent := filepath.Join(dir, "a/outbox/sent")
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s\na:\n%s\nb:\n%s", what, a.logs(), b.logs())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Kill the receiver once a first file is in, while others are on their way.
	wait("a first file at b", func() bool { return countFiles(inbox) >= 1 })
	t.Logf("killing b with %d of %d files in its inbox", countFiles(inbox), files)
	if err := b.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-b.done
	b = startService(t, dir, args("b")...)
	// Then the sender, once a first EERP came back.
	wait("a first EERP at a", func() bool { return countFiles(sent) >= 1 })
	t.Logf("killing a with %d of %d EERPs in", countFiles(sent), files)
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-a.done
	a = startService(t, dir, args("a")...)
	wait("every file and EERP", func() bool { return countFiles(inbox) == files && countFiles(sent) == files })
	for name, data := range want {
		got, err := os.ReadFile(filepath.Join(inbox, name))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: %d bytes (%v), want %d", name, len(got), err, len(data))
		}
	}
	if n := countFiles(filepath.Join(dir, "a/outbox")); n != 0 {
		t.Errorf("%d files still wait in a/outbox", n)
	}
	if err := a.stop(t); err != nil {
		t.Error(err)
	}
	if err := b.stop(t); err != nil {
		t.Error(err)
	}
}
