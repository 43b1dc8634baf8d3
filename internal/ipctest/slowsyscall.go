//go:build linux

package ipctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"golang.org/x/sys/unix"
)

// slowCalls are the system calls that strace can hold up for a test, by strace's
// name: their number (what /proc/PID/task/TID/syscall shows while a thread is in
// one), and whether strace holds the call before it runs instead of before it
// returns.
var slowCalls = map[string]struct {
	nr      int
	onEntry bool
}{
	"shmget":   {unix.SYS_SHMGET, false},
	"semget":   {unix.SYS_SEMGET, false},
	"mkdirat":  {unix.SYS_MKDIRAT, false},
	"fchmodat": {unix.SYS_FCHMODAT, false},
	"openat":   {unix.SYS_OPENAT, false},
	// execve is held before it runs: the child has not become the new program
	// yet, and the parent's vfork (how Go starts a process) waits with it.
	"execve": {unix.SYS_EXECVE, true},
}

// SlowRun is how a run of RunProgramWithSlowSyscall ended, and what it left.
type SlowRun struct {
	Result
	Objects []string // the lines of /proc/sysvipc/shm and /proc/sysvipc/sem left in its IPC namespace
	Files   []string // the names left in its TMPDIR
}

// RunProgramWithSlowSyscall runs the package's program with args under strace, which
// holds up the return of every call of the system call name by delay (strace -e
// inject=NAME:delay_exit=...). When a thread of the program is first inside that
// call, the test sends the program sig; it returns how the program ended and what it
// left behind. So a test puts a signal into the window between the call that creates
// something (shmget's segment exists before the call returns) and the registration
// of its cleanup, a window of nanoseconds that a signal otherwise almost never hits.
// (StartProgramWithSlowSyscall is the same run, step by step.)
//
// The test is skipped, and says why, where strace is not installed or cannot trace
// (ptrace refused, as in some containers), or no namespace can be made.
func RunProgramWithSlowSyscall(t testing.TB, name string, delay time.Duration, sig syscall.Signal, args ...string) SlowRun {
	t.Helper()
	p := StartProgramWithSlowSyscall(t, name, delay, args...)
	pid := p.InSyscall(t)
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("signalling the program (pid %d): %v", pid, err)
	}
	return p.Wait(t)
}

// SlowProc is the package's program running under strace, which holds up one
// system call (StartProgramWithSlowSyscall). Its Proc is the shell that runs strace:
// Expect and Stdout read the program's standard output.
type SlowProc struct {
	*Proc
	nr   int    // the held-up call's number
	tmp  string // the program's TMPDIR
	left string // the file where the shell writes what the namespace held at the end
}

// StraceEndsWithTheTests reports whether strace, and the program under it, end with
// the tests that started them (StartProgramWithSlowSyscall): where setpriv with
// --pdeathsig (util-linux 2.33 and later) is installed.
func StraceEndsWithTheTests() bool { return pdeathsigSetpriv() != "" }

// pdeathsigSetpriv is the path of a setpriv that knows --pdeathsig, or "".
var pdeathsigSetpriv = sync.OnceValue(func() string {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil || exec.Command(setpriv, "--pdeathsig", "KILL", "/bin/true").Run() != nil {
		return ""
	}
	return setpriv
})

// StartProgramWithSlowSyscall starts the package's program with args under strace,
// which holds up every call of the system call name, in the program and in every
// process it starts, by delay: before the call returns (strace -e
// inject=NAME:delay_exit=...), or for execve before it runs (delay_enter), so that
// the parent's start of a child waits with it. The test then finds the moment
// (InSyscall, ChildInSyscall), acts, and collects the end (Wait).
//
// The program runs in a private IPC namespace (as RunProgramInIPCNamespace makes it:
// for an ordinary user, as root of a user namespace), so that every System V object
// left there is its own, and with TMPDIR a fresh directory that everyone may enter
// (so that a process it starts as nobody can run a copy of the executable there),
// so that every file it leaves there is its own.
//
// The test is skipped, and says why, where strace is not installed or no namespace
// can be made; InSyscall and ChildInSyscall skip it where strace cannot trace.
func StartProgramWithSlowSyscall(t testing.TB, name string, delay time.Duration, args ...string) *SlowProc {
	t.Helper()
	call, ok := slowCalls[name]
	if !ok {
		t.Fatalf("StartProgramWithSlowSyscall: no system call %q in its table", name)
	}
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed (apt-get install strace): skipping a test that holds up a system call to put a signal inside it")
	}
	own, err := os.Readlink("/proc/self/ns/ipc")
	if err != nil {
		t.Skipf("cannot read this process's IPC namespace (%v): skipping a test that needs a private one", err)
	}
	attr := ipcNamespaceAttr()
	if err := tryNamespace(attr); err != nil {
		t.Skipf("cannot create a private IPC namespace here (%v): skipping", err)
	}
	tmp, err := os.MkdirTemp("", "ipctest-slow-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	left := filepath.Join(tmp, "..", filepath.Base(tmp)+".objects") // outside TMPDIR, so not in Files
	t.Cleanup(func() {
		if b, err := os.ReadFile(left + ".strace"); err == nil && len(b) > 0 {
			t.Logf("strace said: %s", b)
		}
		_ = os.Remove(left)
		_ = os.Remove(left + ".strace")
	})

	// The shell runs strace (not exec: it reads the namespace's tables afterwards),
	// strace runs the program; strace's exit status is the program's. strace's own
	// complaints go to a file of their own (strace 6.1 says "delayed wait data set
	// already" when a signal meets a held-up call), the program's standard error
	// (fd 3 until a shell under strace puts it back) to the test.
	const script = `[ "$(readlink /proc/self/ns/ipc)" != "$1" ] || { echo "ipctest: not in a new IPC namespace" >&2; exit 99; }
left=$2; shift 2
"$@" 3>&2 2>"$left.strace"
rc=$?
tail -q -n +2 /proc/sysvipc/shm /proc/sysvipc/sem > "$left"
exit $rc
`
	when := "delay_exit"
	if call.onEntry {
		when = "delay_enter"
	}
	straceArgs := []string{strace, "-f", "-qq", "-o", "/dev/null", "-e", "trace=" + name,
		"-e", fmt.Sprintf("inject=%s:%s=%d", name, when, delay.Microseconds()),
		"/bin/sh", "-c", `exec 2>&3 3>&-; ` + envTieToParent + `=$PPID exec "$@"`, "sh", os.Args[0]}
	// The shell is tied to the tests (it gets SIGTERM when they die, kill -9 of the
	// test run included). strace blocks the fatal signals (strace(1), -I) and would
	// trace on alone: setpriv ties it to the shell with SIGKILL, and the program,
	// whose parent strace is, ties itself to strace (envTieToParent) with SIGTERM,
	// on which it cleans up. (strace 6.2's --kill-on-exit would SIGKILL it instead.)
	setpriv := pdeathsigSetpriv()
	if setpriv != "" {
		straceArgs = append([]string{setpriv, "--pdeathsig", "KILL"}, straceArgs...)
	}
	cmd := exec.Command("/bin/sh", append(append([]string{"-c", script, "sh", own, left}, straceArgs...), args...)...)
	cmd.Env = append(withoutHelper(), envProgram+"=1", "TMPDIR="+tmp)
	cmd.SysProcAttr = attr
	p := start(t, cmd, fmt.Sprintf("program under strace, %s held up %v: %s", name, delay, strings.Join(args, " ")))
	return &SlowProc{Proc: p, nr: call.nr, tmp: tmp, left: left}
}

// Program returns the program's pid (strace's child), once strace has started it.
func (p *SlowProc) Program(t testing.TB) int {
	t.Helper()
	var pid int
	p.await(t, "start", func() bool {
		for _, strace := range ChildrenOf(p.Pid()) {
			// The shell's first child reads its namespace ($(readlink ...)).
			if comm(strace) != "strace" {
				continue
			}
			// strace forks to test ptrace before it forks the program; the
			// program's child runs strace's code until its exec of sh.
			for _, kid := range ChildrenOf(strace) {
				if c := comm(kid); c != "" && c != "strace" {
					pid = kid
					return true
				}
			}
		}
		return false
	})
	return pid
}

// comm is the name of process pid's command ("" if there is no such process).
func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSuffix(string(b), "\n")
}

// InSyscall waits for a thread of the program to be inside the held-up system
// call, and returns the program's pid.
func (p *SlowProc) InSyscall(t testing.TB) int {
	t.Helper()
	pid := p.Program(t)
	p.await(t, fmt.Sprintf("make system call %d", p.nr), func() bool { return inSyscall(pid, p.nr) })
	return pid
}

// ChildInSyscall waits for a process that the program started to be inside the
// held-up system call (say, a child in its held execve, while the program's start
// of it waits), and returns that child's pid.
func (p *SlowProc) ChildInSyscall(t testing.TB) int {
	t.Helper()
	program := p.Program(t)
	var kid int
	p.await(t, fmt.Sprintf("start a child that makes system call %d", p.nr), func() bool {
		for _, kid = range ChildrenOf(program) {
			if inSyscall(kid, p.nr) {
				return true
			}
		}
		return false
	})
	return kid
}

// await polls cond every 2 ms until it holds, failing the test (or skipping it,
// where strace could not trace) if the program ends first or Timeout passes.
func (p *SlowProc) await(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(Timeout); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		select {
		case <-p.Done():
			r := p.Proc.Wait(t)
			if b, _ := os.ReadFile(p.left + ".strace"); len(b) > 0 && r.ExitCode != 0 {
				t.Skipf("strace cannot trace here (%s): skipping", strings.TrimSpace(string(b)))
			}
			t.Fatalf("the program ended before it could %s; stderr: %q", what, r.Stderr)
		default:
		}
		if cond() {
			return
		}
	}
	t.Fatalf("the program did not %s within %v", what, Timeout)
}

// Wait waits for the program, strace and the shell to end, and returns how the
// program ended and what it left.
func (p *SlowProc) Wait(t testing.TB) SlowRun {
	t.Helper()
	run := SlowRun{Result: p.Proc.Wait(t)}
	if b, err := os.ReadFile(p.left); err == nil {
		run.Objects = nonEmptyLines(string(b))
	} else {
		t.Errorf("reading what the program's IPC namespace held: %v", err)
	}
	entries, err := os.ReadDir(p.tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		run.Files = append(run.Files, e.Name())
	}
	return run
}

// inSyscall reports whether a thread of process pid is inside system call nr.
func inSyscall(pid, nr int) bool {
	want := strconv.Itoa(nr) + " "
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
	for _, task := range tasks {
		if b, err := os.ReadFile(task); err == nil && strings.HasPrefix(string(b), want) {
			return true
		}
	}
	return false
}

// ChildrenOf lists the children of process pid, started by any of its threads
// (/proc/PID/task/TID/children, proc(5)).
func ChildrenOf(pid int) []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var kids []int
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			if k, err := strconv.Atoi(s); err == nil {
				kids = append(kids, k)
			}
		}
	}
	return kids
}

// Alive reports whether process pid exists and has not ended: a zombie, ended but
// not yet reaped by its parent, is not alive.
func Alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ") // after the command name, which may hold anything
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

func nonEmptyLines(s string) []string {
	var lines []string
	for _, line := range strings.Split(s, "\n") {
		if strings.TrimSpace(line) != "" {
			lines = append(lines, line)
		}
	}
	return lines
}

// AssertSignalLeftNothing checks that the program, named name, ended the way a
// lesson ends on sig: exit status 128+sig, the whole of standard error the one line
// "NAME: SIGNAL: cleaning up and exiting", and nothing left behind (no System V
// object, no file). It reports whether all the checks passed.
func (r SlowRun) AssertSignalLeftNothing(t testing.TB, name string, sig syscall.Signal) bool {
	t.Helper()
	ok := assert.Equal(t, 128+int(sig), r.ExitCode, "exit status; stderr: %q", r.Stderr)
	ok = assert.Equal(t, fmt.Sprintf("%s: %v: cleaning up and exiting\n", name, sig), r.Stderr, "the whole of stderr") && ok
	ok = assert.Empty(t, r.Objects, "System V objects left (/proc/sysvipc lines)") && ok
	ok = assert.Empty(t, r.Files, "files left in TMPDIR") && ok
	return ok
}
