//go:build linux

package ipctest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Where the tests run. Run by root, each test binary runs its tests in an IPC
// namespace of its own (ipc_namespaces(7)): there /proc/sysvipc and the limits in
// /proc/sys/kernel belong to the run alone, so the run cannot see, count or remove
// another run's segments and semaphore sets, and need not wait for one. When the last
// process of the run ends, the kernel destroys the namespace and whatever is still in
// it (tried: a 200 MiB segment left in a namespace is gone from Shmem in
// /proc/meminfo when its process exits), so even a test binary killed with kill -9
// leaves nothing on the machine once its helpers have ended.
//
// Everyone else, and root where the kernel refuses a new namespace (a container
// without CAP_SYS_ADMIN), runs the tests in the namespace they started in. There
// the course's test runs take turns on a lock file, because tests compare
// system-wide tables and some use well-known keys, and the leak check tells the run's
// objects from others' by process id and start time (runpids.go).
//
// Why not a user namespace for an ordinary user, which would let them create an IPC
// namespace too? Inside one only their own uid and gid can be mapped, and shmctl
// IPC_SET refuses an owner outside the map with EINVAL: handing a segment to another
// user (lesson 05 does) works on the machine and would fail in the tests.

const (
	// envInside marks the test binary that runs the tests in a namespace of its own;
	// its value is the pid of the process that started it there, so a process that
	// merely inherited the variable (a nested `go test`) does not take it as its own.
	envInside = "SHMCOURSE_TEST_INSIDE"
	// envNamespace set to "off" makes the tests run in the current IPC namespace,
	// taking turns on the lock file: to watch them with ipcs from another terminal,
	// or to test that way of running.
	envNamespace = "SHMCOURSE_TEST_NAMESPACE"
)

// lockPath is the lock file on which test runs outside a namespace of their own take
// turns. A fixed path, not $TMPDIR: every user's runs must find the same file.
const lockPath = "/tmp/shm-course-tests.lock"

// insideOwnNamespace reports whether this process is the test binary that its parent
// started in a namespace of its own (runIsolated).
func insideOwnNamespace() bool {
	v, ok := os.LookupEnv(envInside)
	return ok && v == strconv.Itoa(os.Getppid())
}

// runIsolated runs this test binary again, with the same arguments, in a new IPC
// namespace, waits for it and returns its exit status. It needs root (CAP_SYS_ADMIN);
// started is false if the kernel refused the namespace (err says why), and nothing
// has run then. The child stays root, so tests that run helpers as another user still
// can.
func runIsolated() (status int, started bool, err error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, false, err
	}
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envInside+"="+strconv.Itoa(os.Getpid()))
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWIPC, Pdeathsig: syscall.SIGTERM}

	// The child gets SIGTERM if this process dies (say, killed by go test after its
	// timeout), so that it cleans up rather than runs on. The kernel sends it when
	// the thread that started the child ends: keep this goroutine on its thread.
	runtime.LockOSThread()
	// Ctrl-C reaches both processes (one process group); a signal sent to this one
	// alone (kill PID, go test's SIGQUIT after a timeout) is passed on. Until the
	// child has ended, this process only waits: the child prints and cleans up.
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT)
	if err := cmd.Start(); err != nil {
		signal.Stop(signals)
		return 0, false, err
	}
	go func() {
		for sig := range signals {
			_ = cmd.Process.Signal(sig)
		}
	}()
	_ = cmd.Wait() // the status is in ProcessState
	return exitStatus(cmd.ProcessState), true, nil
}

// exitStatus is a process's exit status as a shell reports it: 128+N for death by
// signal N.
func exitStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// lockTests takes the course-wide test lock, for a run in a shared namespace. The
// file is opened without O_CREAT when it exists: with fs.protected_regular set, the
// kernel refuses O_CREAT on another user's file in /tmp, even to root.
func lockTests() (unlock func()) {
	f, err := openLockFile()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ipctest: running without the test lock (%v)\n", err)
		return func() {}
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		fmt.Fprintf(os.Stderr, "ipctest: running without the test lock (%v)\n", err)
	}
	return func() { f.Close() } // closing releases the lock
}

func openLockFile() (*os.File, error) {
	for {
		f, err := os.OpenFile(lockPath, os.O_RDWR, 0)
		if !errors.Is(err, os.ErrNotExist) {
			return f, err
		}
		f, err = os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, os.ErrExist) {
			continue // another run created it in between: open that one
		}
		if err != nil {
			return nil, err
		}
		_ = f.Chmod(0o666) // every user's runs share it, whatever the umask
		return f, nil
	}
}
