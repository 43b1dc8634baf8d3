//go:build linux

package ipctest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Where the tests run. Each test binary runs its tests in an IPC namespace of its
// own (ipc_namespaces(7)): root's supervisor makes it (supervise.go), an ordinary
// user's gets it together with a user namespace that maps only that user, from a
// wrapper (usernamespace.go). There /proc/sysvipc and the limits in
// /proc/sys/kernel belong to the run alone, so the run cannot see, count or remove
// another run's segments and semaphore sets, and need not wait for one. When the last
// process of the run ends, the kernel destroys the namespace and whatever is still in
// it (tried: a 200 MiB segment left in a namespace is gone from Shmem in
// /proc/meminfo when its process exits), so even a test run killed with kill -9
// leaves nothing on the machine once its processes have ended.
//
// An ordinary user's packages that give segments to other users (GivesSegmentsAway),
// and everyone's where the kernel refuses a new namespace (user namespaces turned
// off, a container's seccomp profile, root without CAP_SYS_ADMIN), run the tests in
// the namespace they started in. There the course's test runs take turns on a lock
// file (the supervisor holds it from before the tests start until it has cleaned up
// after them), because tests compare system-wide tables and some use well-known
// keys, and the leak check tells the run's objects from others' by process id and
// start time (runpids.go).

// envNamespace set to "off" makes the tests run in the current IPC namespace,
// taking turns on the lock file: to watch them with ipcs from another terminal, or
// to test that way of running.
const envNamespace = "SHMCOURSE_TEST_NAMESPACE"

// lockPath is the lock file on which test runs outside a namespace of their own take
// turns. A fixed path, not $TMPDIR: every user's runs must find the same file.
const lockPath = "/tmp/shm-course-tests.lock"

// alongside is set by Alongside: this package's tests may run at the same time as
// other such packages' in the shared namespace.
var alongside bool

// Alongside declares, before Main, that the package's tests may run in the shared
// namespace at the same time as other test packages of the course that declare it
// too: they compare no system-wide table (ipcs totals, used ids, the whole of
// /proc/sysvipc), use no key that another package's tests use, and start no test
// run of their own (which would wait for the lock this run holds). Such a run takes
// the course-wide lock shared (LOCK_SH), so it still waits for, and holds off, the
// packages that need the namespace to themselves, and it takes a lock of its own
// package's exclusively, so that two runs of the same package (two terminals, two
// users: the same well-known keys) still take turns. The leak checks tell each run's
// objects from the others' by process id and start time (runpids.go).
func Alongside() { alongside = true }

// lockTests takes the course-wide test lock, for a run in a shared namespace:
// exclusively, or shared (after its package's own lock) for a package that runs
// alongside others. A file is opened without O_CREAT when it exists: with
// fs.protected_regular set, the kernel refuses O_CREAT on another user's file in
// /tmp, even to root.
func lockTests() (unlock func()) {
	return takeLocks(lockPath, alongside, strings.TrimSuffix(filepath.Base(os.Args[0]), ".test"))
}

// takeLocks takes the lock file course (exclusively, or shared after the lock of
// package pkg) and returns what releases them.
func takeLocks(course string, alongside bool, pkg string) (unlock func()) {
	var held []*os.File
	unlock = func() {
		for _, f := range held {
			f.Close() // closing releases the lock
		}
	}
	take := func(path string, how int) {
		f, err := openLockFile(path)
		if err == nil {
			err = unix.Flock(int(f.Fd()), how)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "ipctest: running without the test lock %s (%v)\n", path, err)
		}
		if f != nil {
			held = append(held, f)
		}
	}
	if !alongside {
		take(course, unix.LOCK_EX)
		return unlock
	}
	// Its own package's lock first, so that a second run of the package waits
	// without holding the course-wide lock (and so holding off the others). The
	// file is named after the test binary (go test names it PACKAGE.test), so that
	// every user's runs of the package find it.
	take(strings.TrimSuffix(course, ".lock")+"-"+pkg+".lock", unix.LOCK_EX)
	take(course, unix.LOCK_SH)
	return unlock
}

func openLockFile(path string) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if !errors.Is(err, os.ErrNotExist) {
			return f, err
		}
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
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
