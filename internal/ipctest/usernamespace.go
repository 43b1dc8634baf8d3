//go:build linux

package ipctest

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// An ordinary user's test run in a namespace of its own (see isolate.go). Only a
// process with CAP_SYS_ADMIN may make an IPC namespace, and an ordinary user has it
// only in a user namespace of their own, which a process must enter when it starts
// (a Go process has several threads, and unshare(2) refuses CLONE_NEWUSER to those).
// So the test binary that go test starts runs this small wrapper, which starts the
// test binary again in a new user namespace and a new IPC namespace (clone(2):
// CLONE_NEWUSER | CLONE_NEWIPC), and that second process is the run's supervisor,
// as it is root's: inside the namespace, where it can see, count and remove the
// run's objects.
//
// The user namespace maps the user's own uid and gid to themselves and nothing else
// (user_namespaces(7)): inside, the tests run as the same ordinary user, with no
// capability (execve(2) clears them for a uid other than the namespace's root, and
// the namespace's uid 0 is not even mapped). Files on the machine keep their
// owners; those of users outside the map (root's /usr, say) show as the overflow
// uid, 65534. What the map lacks is every other user: shmctl(IPC_SET) to another
// owner fails with EINVAL there, so packages whose tests do that (GivesSegmentsAway)
// run in the machine's namespace instead.

// envUserNamespace, set by the wrapper to its pid, tells the process it started
// that it is the supervisor of a run in a user and IPC namespace of its own.
const envUserNamespace = "SHMCOURSE_TEST_USERNS"

// givesAway is set by GivesSegmentsAway.
var givesAway bool

// GivesSegmentsAway declares, before Main, that the package's tests make another
// user the owner of a segment (shmctl IPC_SET). An ordinary user's run of the
// package then stays in the machine's IPC namespace, taking turns on the lock file:
// the user namespace that would give it one of its own maps no user but the
// caller, and IPC_SET to any other fails there with EINVAL, where the machine
// allows it.
func GivesSegmentsAway() { givesAway = true }

// inUserNamespace reports whether this process is the supervisor that the wrapper
// started in a user and IPC namespace of the run's own.
func inUserNamespace() bool {
	return os.Getenv(envUserNamespace) == strconv.Itoa(os.Getppid())
}

// wantsUserNamespace reports whether this test binary, started by go test, should
// run the wrapper: an ordinary user's run of a package that can run in a namespace
// of its own, not turned off with SHMCOURSE_TEST_NAMESPACE=off.
func wantsUserNamespace() bool {
	return os.Geteuid() != 0 && os.Getenv(envNamespace) != "off" && !givesAway && !inUserNamespace()
}

// superviseInUserNamespace starts this test binary again, with the same arguments,
// in a new user and IPC namespace, as the run's supervisor, and waits for it; it
// returns the supervisor's exit status (128+N if a signal killed it). It returns
// ok false, having started nothing, where the kernel refuses the namespaces (user
// namespaces turned off, a container's seccomp profile): the run then takes turns
// in the machine's namespace.
//
// It passes on SIGQUIT (go test's after -timeout), SIGTERM and SIGHUP, which go
// test or a person may send to this process alone, and SIGINT; Ctrl-C reaches the
// supervisor anyway, with the whole foreground process group, and a second signal
// changes nothing there. If go test goes away (killed), the supervisor gets SIGHUP,
// as from a terminal that closes. Signals that were ignored when the run started
// (nohup) stay ignored: this process does not catch them, so the supervisor starts
// with them ignored too.
func superviseInUserNamespace() (status int, ok bool) {
	// The supervisor gets SIGKILL when the thread that started it ends
	// (Pdeathsig): that must be when this process ends.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	signals := make(chan os.Signal, 16)
	caught := []os.Signal{syscall.SIGPIPE} // go test gone: no reason to die before the supervisor
	for _, sig := range []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT} {
		if !signal.Ignored(sig) {
			caught = append(caught, sig)
		}
	}
	signal.Notify(signals, caught...)
	exe, err := os.Executable()
	if err == nil {
		uid, gid := os.Geteuid(), os.Getegid()
		var pid int
		pid, err = syscall.ForkExec(exe, os.Args, &syscall.ProcAttr{
			Env:   withEnv(os.Environ(), envUserNamespace, strconv.Itoa(os.Getpid())),
			Files: []uintptr{0, 1, 2},
			Sys: &syscall.SysProcAttr{
				Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWIPC,
				UidMappings: []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}},
				GidMappings: []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}},
				Pdeathsig:   syscall.SIGKILL,
			},
		})
		if err == nil {
			return waitForSupervisor(pid, signals), true
		}
	}
	signal.Reset(caught...)
	select {
	case sig := <-signals: // it came while this tried: it is the run's end
		if sig != syscall.SIGPIPE {
			_ = syscall.Kill(os.Getpid(), sig.(syscall.Signal))
		}
	default:
	}
	fmt.Fprintf(os.Stderr, "ipctest: no IPC namespace of its own for this test run (a user namespace: %v): "+
		"running in the shared one, taking turns with other test runs of the course on %s\n", err, lockPath)
	return 0, false
}

// waitForSupervisor passes signals on to the supervisor until it has ended, and
// returns its exit status; if a signal killed it, this process dies of the same.
func waitForSupervisor(pid int, signals chan os.Signal) int {
	parentGone := watchParent()
	ended := make(chan syscall.WaitStatus, 1)
	go func() {
		var ws syscall.WaitStatus
		for {
			_, err := syscall.Wait4(pid, &ws, 0, nil)
			if err != syscall.EINTR {
				break
			}
		}
		ended <- ws
	}()
	for {
		select {
		case sig := <-signals:
			if sig != syscall.SIGPIPE {
				_ = syscall.Kill(pid, sig.(syscall.Signal))
			}
		case <-parentGone:
			parentGone = nil
			_ = syscall.Kill(pid, syscall.SIGHUP)
		case ws := <-ended:
			if ws.Signaled() {
				// Killed (kill -9, a crash): die of the same signal, so that go
				// test says "signal: killed" as it would of the supervisor.
				signal.Reset(ws.Signal())
				_ = syscall.Kill(os.Getpid(), ws.Signal())
				time.Sleep(100 * time.Millisecond) // for a signal that does not kill
				return 128 + int(ws.Signal())
			}
			return ws.ExitStatus()
		}
	}
}
