//go:build linux

package ipctest

import (
	"errors"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// childPid finds the pid in a line a lesson relays from a child: "   [pid 4242] ...".
var childPid = regexp.MustCompile(`\[pid (\d+)\]`)

// CtrlCWhileChildRuns is Ctrl-C in a terminal at a moment a lesson's child process
// runs: start starts the program with StartProgramInGroup, and childLine is part of
// a line the program relays from the child ("[pid N] ..."), after which the child
// waits for the program. As soon as that line comes, the child is stopped (SIGSTOP),
// so that it cannot end before the signal, and the program cannot go past it; the
// program's process group gets SIGINT, as a terminal sends it to its foreground
// group; then the child goes on (SIGCONT), and the program is waited for with its
// input open, as a terminal's stays. It returns how the program ended and the
// child's pid.
//
// A child that ended before it could be stopped (a busy machine) is a moment missed,
// not a failure: the program is interrupted all the same, and started again, up to
// five times.
func CtrlCWhileChildRuns(t testing.TB, start func() *Proc, childLine string) (r Result, child int) {
	t.Helper()
	for try := 1; ; try++ {
		p := start()
		line := p.Expect(t, childLine, Timeout)
		m := childPid.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("the line %q is not relayed from a child ([pid N] ...)", line)
		}
		child, _ = strconv.Atoi(m[1])
		caught := stopped(child, p.Pid())
		p.SignalGroup(t, syscall.SIGINT)
		if caught {
			// A stopped process is not reaped: the pid is still the child's.
			_ = syscall.Kill(child, syscall.SIGCONT)
		}
		<-p.Done() // its input stays open, as a terminal's does (Proc's deadline kills a hang)
		r = p.Wait(t)
		if caught {
			return r, child
		}
		if try == 5 {
			t.Fatalf("the child of %q ended every time before it could be stopped (%d tries)", childLine, try)
		}
		t.Logf("the child (pid %d) had ended before it could be stopped: trying again", child)
	}
}

// stopped sends SIGSTOP to process pid, a child of parent, and reports whether it
// stopped: false if it has ended (gone, or a zombie). The signal goes through a pidfd
// opened before the parent is checked, so that it never reaches another process that
// got the pid meanwhile.
func stopped(pid, parent int) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	if st, ppid := stateOf(pid); ppid != parent || st == 'Z' || st == 'X' {
		return false
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGSTOP, nil, 0); err != nil {
		return false
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		switch st, _ := stateOf(pid); st {
		case 'T', 't':
			return true
		case 'Z', 'X', 0:
			return false
		}
	}
	return false
}

// stateOf is the state letter and the parent's pid of process pid (fields 3 and 4
// of /proc/PID/stat), or 0 and 0 if it is gone.
func stateOf(pid int) (state byte, ppid int) {
	f, ok := procStat(pid)
	if !ok || len(f) < 2 || len(f[0]) != 1 {
		return 0, 0
	}
	ppid, _ = strconv.Atoi(f[1])
	return f[0][0], ppid
}

// Gone reports whether process pid has ended and been reaped: no such process.
func Gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
