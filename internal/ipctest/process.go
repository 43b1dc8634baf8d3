//go:build linux

package ipctest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/learn-sysv/shm-course/internal/reexec"
)

// Timeout is how long a helper or program may run before the test kills it and
// fails: a deadlock fails the test in seconds instead of hanging it.
var Timeout = 30 * time.Second

// Result is how a finished process ended.
type Result struct {
	Stdout   string
	Stderr   string
	ExitCode int // -1 if it was killed by a signal
	Signal   syscall.Signal
}

// RunProgram runs the package's program (see Main) in a separate process with args
// and returns how it ended. stdin is empty.
func RunProgram(t testing.TB, args ...string) Result {
	t.Helper()
	return StartProgram(t, args...).Wait(t)
}

// StartProgram starts the package's program in a separate process.
func StartProgram(t testing.TB, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(withoutHelper(), envProgram+"=1")
	return start(t, cmd, "program "+strings.Join(args, " "))
}

// StartProgramInGroup is StartProgram in a new process group that the program
// leads, so that SignalGroup reaches it and every process it starts, as Ctrl-C in
// a terminal reaches the whole foreground process group. When the test ends,
// whatever is left of the group is killed.
func StartProgramInGroup(t testing.TB, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(withoutHelper(), envProgram+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := start(t, cmd, "program "+strings.Join(args, " ")+" (own process group)")
	pgid := p.Pid()
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	return p
}

// RunHelper runs the helper registered as name in a separate process.
func RunHelper(t testing.TB, name string, args ...string) Result {
	t.Helper()
	return StartHelper(t, name, args...).Wait(t)
}

// StartHelper starts the helper registered as name in a separate process.
func StartHelper(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(withoutHelper(), envHelper+"="+name)
	return start(t, cmd, "helper "+name)
}

// StartHelperAs starts a helper that runs as the given user and group, which needs
// root; the test is skipped otherwise.
func StartHelperAs(t testing.TB, uid, gid uint32, name string, args ...string) *Proc {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("running a helper as uid %d needs root; run the tests as root (go test -exec sudo) to see this", uid)
	}
	if !reexec.CanRunAs(uid, gid) {
		t.Skipf("uid %d or gid %d does not exist in this user namespace (a container, or unshare -r), so no helper can run as it", uid, gid)
	}
	cmd, err := reexec.CommandAs(uid, gid, args...)
	if err != nil {
		t.Fatalf("preparing a helper for uid %d: %v", uid, err)
	}
	t.Cleanup(reexec.Cleanup)
	cmd.Env = append(withoutHelper(), envHelper+"="+name)
	return start(t, cmd, fmt.Sprintf("helper %s as uid %d", name, uid))
}

// NeedNobody skips the test unless the program can start a process as the user
// nobody (reexec.CommandAs): only root can, and not where nobody does not exist (a
// user namespace that maps root alone, such as unshare -r).
func NeedNobody(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("only root may start a process as nobody: run the tests as root (go test -exec sudo) to see this")
	}
	if uid, gid := reexec.Nobody(); !reexec.CanRunAs(uid, gid) {
		t.Skip("the user nobody does not exist in this user namespace (a container, or unshare -r): no process can run as nobody here")
	}
}

func withoutHelper() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envHelper+"=") && !strings.HasPrefix(kv, envProgram+"=") {
			env = append(env, kv)
		}
	}
	return env
}

// Proc is a running helper or program. Its output is collected as it comes;
// Expect waits for a line of it.
type Proc struct {
	Cmd   *exec.Cmd
	Stdin io.WriteCloser
	name  string

	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	lines  chan string // every stdout line, for Expect
	done   chan struct{}
	result Result
	cancel context.CancelFunc

	expectMu sync.Mutex
	unread   []string // lines ExpectAll read but did not need, oldest first
}

func start(t testing.TB, cmd *exec.Cmd, name string) *Proc {
	t.Helper()
	return startFor(t, cmd, name, Timeout)
}

// startFor is start with a timeout other than Timeout.
func startFor(t testing.TB, cmd *exec.Cmd, name string, timeout time.Duration) *Proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	p := &Proc{Cmd: cmd, name: name, lines: make(chan string, 10000), done: make(chan struct{}), cancel: cancel}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.Stdin = stdin
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &lockedWriter{mu: &p.mu, w: &p.stderr}
	if err := startTied(cmd); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go p.collect(stdout)
	go func() { // the deadline: kill a process that hangs
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				_ = cmd.Process.Kill()
			}
		case <-p.done:
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		cancel()
	})
	return p
}

// startTied starts cmd so that it gets SIGTERM when the test process dies
// (reexec.StartTied): a lesson program cleans up on it and exits, instead of
// running on, a child of init, after the tests were killed. (The supervisor stops
// what is left anyway; this covers its own death by SIGKILL.)
func startTied(cmd *exec.Cmd) error {
	return reexec.StartTied(cmd, syscall.SIGTERM)
}

// collect copies stdout into the buffer and the lines channel, then reaps the
// process.
func (p *Proc) collect(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.stdout.WriteString(line + "\n")
		p.mu.Unlock()
		select {
		case p.lines <- line:
		default: // nobody is reading lines; the buffer still has them
		}
	}
	_, _ = io.Copy(io.Discard, stdout)
	err := p.Cmd.Wait()
	p.mu.Lock()
	p.result = Result{Stdout: p.stdout.String(), Stderr: p.stderr.String(), ExitCode: p.Cmd.ProcessState.ExitCode()}
	if ws, ok := p.Cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		p.result.Signal = ws.Signal()
	}
	p.mu.Unlock()
	_ = err // the exit status is in the result
	close(p.lines)
	close(p.done)
}

// Expect waits until the process prints a line containing substr and returns that
// line. The lines before it are skipped: a later Expect does not see them. The test
// fails if the process ends first or the timeout passes. To wait for lines that two
// processes (or two goroutines) print in no fixed order, use ExpectAll.
func (p *Proc) Expect(t testing.TB, substr string, timeout time.Duration) string {
	t.Helper()
	p.expectMu.Lock()
	defer p.expectMu.Unlock()
	for len(p.unread) > 0 {
		line := p.unread[0]
		p.unread = p.unread[1:]
		if strings.Contains(line, substr) {
			return line
		}
	}
	deadline := time.After(timeout)
	for {
		line, ok := p.nextLine(t, deadline, timeout, []string{substr})
		if !ok || strings.Contains(line, substr) {
			return line
		}
	}
}

// ExpectAll waits until the process has printed, for each of substrs, a line that
// contains it, in any order, and returns those lines in the order of substrs. A line
// counts for the first substring it contains that is still missing. Nothing is
// lost: the lines it reads but does not need stay unread, in order, for the next
// Expect or ExpectAll. The test fails if the process ends first or the timeout
// passes.
//
// Use it where the lines come from different processes or goroutines (a launcher
// that relays its children's output prints its own lines and theirs in whatever
// order they come), so that the test does not depend on that order.
func (p *Proc) ExpectAll(t testing.TB, timeout time.Duration, substrs ...string) []string {
	t.Helper()
	p.expectMu.Lock()
	defer p.expectMu.Unlock()
	found := make([]string, len(substrs))
	matched := make([]bool, len(substrs))
	missing := len(substrs)
	// match uses line for the first missing substring it contains.
	match := func(line string) bool {
		for i, s := range substrs {
			if !matched[i] && strings.Contains(line, s) {
				found[i], matched[i] = line, true
				missing--
				return true
			}
		}
		return false
	}
	var keep []string
	for _, line := range p.unread {
		if missing == 0 || !match(line) {
			keep = append(keep, line)
		}
	}
	p.unread = keep
	deadline := time.After(timeout)
	for missing > 0 {
		var want []string
		for i, s := range substrs {
			if !matched[i] {
				want = append(want, s)
			}
		}
		line, ok := p.nextLine(t, deadline, timeout, want)
		if !ok {
			break
		}
		if !match(line) {
			p.unread = append(p.unread, line)
		}
	}
	return found
}

// nextLine returns the next line from the process. If the process ends or the
// deadline passes first, the test fails, naming want, the lines still awaited, and
// nextLine reports false.
func (p *Proc) nextLine(t testing.TB, deadline <-chan time.Time, timeout time.Duration, want []string) (string, bool) {
	t.Helper()
	select {
	case line, ok := <-p.lines:
		if !ok {
			r := p.Wait(t)
			t.Fatalf("%s ended (exit %d) before printing %s\nstdout:\n%s\nstderr:\n%s", p.name, r.ExitCode, quoteAll(want), r.Stdout, r.Stderr)
			return "", false
		}
		return line, true
	case <-deadline:
		t.Fatalf("%s did not print %s within %v\nstdout so far:\n%s\nstderr so far:\n%s", p.name, quoteAll(want), timeout, p.Stdout(), p.Stderr())
	}
	return "", false
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// Stdout returns what the process has printed on standard output so far.
func (p *Proc) Stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

// Stderr returns what the process has printed on standard error so far.
func (p *Proc) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Signal sends sig to the process.
func (p *Proc) Signal(t testing.TB, sig os.Signal) {
	t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signalling %s: %v", p.name, err)
	}
}

// SignalGroup sends sig to the process group of a process started with
// StartProgramInGroup: to it and to every process it started.
func (p *Proc) SignalGroup(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(-p.Pid(), sig); err != nil {
		t.Fatalf("signalling the process group of %s: %v", p.name, err)
	}
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Wait waits for the process to end (at most Timeout from its start) and returns
// how it ended.
func (p *Proc) Wait(t testing.TB) Result {
	t.Helper()
	_ = p.Stdin.Close()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.result
}

// Done is closed when the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}

// NeedSignal skips the test where sig is ignored in the test run: under nohup
// (SIGHUP), or as a background job of a shell without job control (SIGINT). The
// processes the test starts inherit that, as they should (a program started to
// ignore a signal keeps ignoring it), so sig would not end them.
func NeedSignal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if signal.Ignored(sig) {
		t.Skipf("%v is ignored in this test run (nohup, or a background job of a script), and so in the processes it starts: run it without that to see this", sig)
	}
}
