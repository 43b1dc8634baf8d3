//go:build linux

package ipctest

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// StartHelperInIPCNamespace starts the helper registered as name in a new, private
// IPC namespace (clone(2) with CLONE_NEWIPC). It sees none of the machine's
// segments and semaphore sets, and its /proc/sys/kernel/{shm*,sem,msg*} are its
// own: it may lower a limit to reach it, without changing the machine's. What it
// creates goes away with the namespace, when it exits.
//
// Root may create the namespace. An ordinary user gets it inside a new user
// namespace, in which the helper is root (uid 0 mapped to the user), where the
// kernel allows unprivileged user namespaces. Where neither works the test is
// skipped, and says why.
func StartHelperInIPCNamespace(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	attr := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWIPC}
	if os.Geteuid() != 0 {
		attr.Cloneflags |= syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	// A trial run first, so that a kernel or user that may not create the
	// namespaces skips the test instead of failing it.
	if trueBin, err := exec.LookPath("true"); err == nil {
		trial := exec.Command(trueBin)
		trial.SysProcAttr = attr
		if err := trial.Run(); err != nil {
			t.Skipf("cannot start a process in a private IPC namespace here (%v): this test changes kernel.sem limits, which it may only do there; run it as root to see it", err)
		}
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(withoutHelper(), envHelper+"="+name)
	cmd.SysProcAttr = attr
	return start(t, cmd, "helper "+name+" in a private IPC namespace")
}
