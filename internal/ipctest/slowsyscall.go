//go:build linux

package ipctest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"golang.org/x/sys/unix"
)

// slowCalls are the system calls RunProgramWithSlowSyscall can hold up, by strace's
// name and by number (what /proc/PID/task/TID/syscall shows while a thread is in one).
var slowCalls = map[string]int{
	"shmget":   unix.SYS_SHMGET,
	"semget":   unix.SYS_SEMGET,
	"mkdirat":  unix.SYS_MKDIRAT,
	"fchmodat": unix.SYS_FCHMODAT,
	"openat":   unix.SYS_OPENAT,
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
//
// The program runs in a private IPC namespace (as RunProgramInIPCNamespace makes it:
// for an ordinary user, as root of a user namespace), so that every System V object
// left there is its own, and with TMPDIR a fresh directory that everyone may enter
// (so that a process it starts as nobody can run a copy of the executable there),
// so that every file it leaves there is its own. Objects lists what the namespace
// held once the program had ended; Files what the directory held.
//
// The test is skipped, and says why, where strace is not installed or cannot trace
// (ptrace refused, as in some containers), or no namespace can be made.
func RunProgramWithSlowSyscall(t testing.TB, name string, delay time.Duration, sig syscall.Signal, args ...string) SlowRun {
	t.Helper()
	nr, ok := slowCalls[name]
	if !ok {
		t.Fatalf("RunProgramWithSlowSyscall: no system call %q in its table", name)
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
	straceArgs := []string{strace, "-f", "-qq", "-o", "/dev/null", "-e", "trace=" + name,
		"-e", fmt.Sprintf("inject=%s:delay_exit=%d", name, delay.Microseconds()),
		"/bin/sh", "-c", `exec 2>&3 3>&-; exec "$@"`, "sh", os.Args[0]}
	cmd := exec.Command("/bin/sh", append(append([]string{"-c", script, "sh", own, left}, straceArgs...), args...)...)
	cmd.Env = append(withoutHelper(), envProgram+"=1", "TMPDIR="+tmp)
	cmd.SysProcAttr = attr
	p := start(t, cmd, fmt.Sprintf("program under strace, %s held up %v: %s", name, delay, strings.Join(args, " ")))

	pid, err := inSyscall(p, nr)
	if err != nil {
		r := p.Wait(t)
		if b, _ := os.ReadFile(left + ".strace"); len(b) > 0 && r.ExitCode != 0 {
			t.Skipf("strace cannot trace here (%s): skipping", strings.TrimSpace(string(b)))
		}
		t.Fatalf("%v; stderr: %q", err, r.Stderr)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("signalling the program (pid %d): %v", pid, err)
	}
	run := SlowRun{Result: p.Wait(t)}
	if b, err := os.ReadFile(left); err == nil {
		run.Objects = nonEmptyLines(string(b))
	} else {
		t.Errorf("reading what the program's IPC namespace held: %v", err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		run.Files = append(run.Files, e.Name())
	}
	return run
}

// inSyscall waits for the program that strace, a child of p, runs, to have a
// thread inside system call nr, and returns the program's pid.
func inSyscall(p *Proc, nr int) (int, error) {
	want := strconv.Itoa(nr) + " "
	deadline := time.Now().Add(Timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.Done():
			return 0, fmt.Errorf("the program ended before it made system call %d", nr)
		default:
		}
		for _, strace := range childrenOf(p.Pid()) {
			for _, pid := range childrenOf(strace) {
				tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
				for _, task := range tasks {
					if b, err := os.ReadFile(task); err == nil && strings.HasPrefix(string(b), want) {
						return pid, nil
					}
				}
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, fmt.Errorf("the program made no system call %d within %v", nr, Timeout)
}

// childrenOf lists the children of process pid (/proc/PID/task/TID/children, proc(5)).
func childrenOf(pid int) []int {
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
