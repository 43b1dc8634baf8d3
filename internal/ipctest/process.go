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
		t.Skipf("running a helper as uid %d needs root; run the tests as root (sudo go test) to see this", uid)
	}
	cmd, err := reexec.CommandAs(uid, gid, args...)
	if err != nil {
		t.Fatalf("preparing a helper for uid %d: %v", uid, err)
	}
	t.Cleanup(reexec.Cleanup)
	cmd.Env = append(withoutHelper(), envHelper+"="+name)
	return start(t, cmd, fmt.Sprintf("helper %s as uid %d", name, uid))
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
}

func start(t testing.TB, cmd *exec.Cmd, name string) *Proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
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
	if err := cmd.Start(); err != nil {
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
// line. The test fails if the process ends first or the timeout passes.
func (p *Proc) Expect(t testing.TB, substr string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				r := p.Wait(t)
				t.Fatalf("%s ended (exit %d) before printing %q\nstdout:\n%s\nstderr:\n%s", p.name, r.ExitCode, substr, r.Stdout, r.Stderr)
			}
			if strings.Contains(line, substr) {
				return line
			}
		case <-deadline:
			t.Fatalf("%s did not print %q within %v\nstdout so far:\n%s\nstderr so far:\n%s", p.name, substr, timeout, p.Stdout(), p.Stderr())
		}
	}
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
