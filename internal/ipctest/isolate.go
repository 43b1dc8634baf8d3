//go:build linux

package ipctest

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Where the tests run. Run by root, each test binary runs its tests in an IPC
// namespace of its own (ipc_namespaces(7); the supervisor makes it, see
// supervise.go): there /proc/sysvipc and the limits in
// /proc/sys/kernel belong to the run alone, so the run cannot see, count or remove
// another run's segments and semaphore sets, and need not wait for one. When the last
// process of the run ends, the kernel destroys the namespace and whatever is still in
// it (tried: a 200 MiB segment left in a namespace is gone from Shmem in
// /proc/meminfo when its process exits), so even a test run killed with kill -9
// leaves nothing on the machine once its processes have ended.
//
// Everyone else, and root where the kernel refuses a new namespace (a container
// without CAP_SYS_ADMIN), runs the tests in the namespace they started in. There
// the course's test runs take turns on a lock file (the supervisor holds it from
// before the tests start until it has cleaned up after them), because tests compare
// system-wide tables and some use well-known keys, and the leak check tells the run's
// objects from others' by process id and start time (runpids.go).
//
// Why not a user namespace for an ordinary user, which would let them create an IPC
// namespace too? Inside one only their own uid and gid can be mapped, and shmctl
// IPC_SET refuses an owner outside the map with EINVAL: handing a segment to another
// user (lesson 05 does) works on the machine and would fail in the tests.

// envNamespace set to "off" makes root's tests run in the current IPC namespace,
// taking turns on the lock file: to watch them with ipcs from another terminal, or
// to test that way of running.
const envNamespace = "SHMCOURSE_TEST_NAMESPACE"

// lockPath is the lock file on which test runs outside a namespace of their own take
// turns. A fixed path, not $TMPDIR: every user's runs must find the same file.
const lockPath = "/tmp/shm-course-tests.lock"

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
