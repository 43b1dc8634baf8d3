//go:build linux

package ipctest

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// RunProgramInIPCNamespace runs the package's program with args in a new, private
// IPC namespace whose IPC sysctls are first set to sysctls (names under
// /proc/sys/kernel, such as "shm_rmid_forced": "1"). A lesson can thus be tested on a
// kernel set differently without changing the machine's own settings: the namespace
// has its own copies of kernel.shm*, sem and msg*, and its own (empty) set of
// segments, which end with it.
//
// Root gets the namespace with clone(2)'s CLONE_NEWIPC. An ordinary user gets it
// inside a new user namespace (CLONE_NEWUSER), where the user is root, as
// `unshare -r --ipc` does; the program then runs as root of that namespace. Where the
// kernel refuses both (user namespaces turned off), the test is skipped with a message.
//
// A shell in the new namespace checks that its IPC namespace is not the test's own
// before it writes a sysctl, then execs the program.
func RunProgramInIPCNamespace(t testing.TB, sysctls map[string]string, args ...string) Result {
	t.Helper()
	own, err := os.Readlink("/proc/self/ns/ipc")
	if err != nil {
		t.Skipf("cannot read this process's IPC namespace (%v): skipping a test that needs a private one", err)
	}
	attr := ipcNamespaceAttr()
	if err := tryNamespace(attr); err != nil {
		t.Skipf("cannot create a private IPC namespace here (%v): skipping (as an ordinary user this needs user namespaces; root can always)", err)
	}
	names := make([]string, 0, len(sysctls))
	for k := range sysctls {
		names = append(names, k)
	}
	sort.Strings(names)
	var script strings.Builder
	script.WriteString(`[ "$(readlink /proc/self/ns/ipc)" != "$1" ] || { echo "ipctest: not in a new IPC namespace" >&2; exit 99; }` + "\n")
	for _, k := range names {
		if strings.ContainsAny(k, "/ ") || strings.ContainsAny(sysctls[k], "'\n") {
			t.Fatalf("RunProgramInIPCNamespace: bad sysctl %q=%q", k, sysctls[k])
		}
		fmt.Fprintf(&script, "echo '%s' > /proc/sys/kernel/%s || exit 98\n", sysctls[k], k)
	}
	script.WriteString(`shift; exec "$@"` + "\n")
	cmd := exec.Command("/bin/sh", append([]string{"-c", script.String(), "sh", own, os.Args[0]}, args...)...)
	cmd.Env = append(withoutHelper(), envProgram+"=1")
	cmd.SysProcAttr = attr
	return start(t, cmd, "program in a private IPC namespace "+strings.Join(args, " ")).Wait(t)
}

// RunProgramAsNamespaceRoot runs the package's program with args as root of a new
// user namespace that maps only the caller's own uid and gid, to root, with an IPC
// namespace of its own: what `unshare -r --ipc` gives an ordinary user, and much
// like a container. There root has every capability over the namespace's objects,
// but no other user exists: a process cannot be started as nobody. Where the kernel
// refuses user namespaces, the test is skipped with a message.
func RunProgramAsNamespaceRoot(t testing.TB, args ...string) Result {
	t.Helper()
	return runAsNamespaceRoot(t, syscall.CLONE_NEWIPC, args...)
}

// RunProgramAsUserNamespaceRoot is RunProgramAsNamespaceRoot without the IPC
// namespace (`unshare -r`): root of its user namespace, with every capability in its
// effective set, among the test's own segments, over which none of them counts.
func RunProgramAsUserNamespaceRoot(t testing.TB, args ...string) Result {
	t.Helper()
	return runAsNamespaceRoot(t, 0, args...)
}

func runAsNamespaceRoot(t testing.TB, flags uintptr, args ...string) Result {
	t.Helper()
	attr := &syscall.SysProcAttr{
		Cloneflags:  flags | syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
	}
	if err := tryNamespace(attr); err != nil {
		t.Skipf("cannot create a user namespace here (%v): skipping the run as root of one (unshare -r --ipc)", err)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(withoutHelper(), envProgram+"=1")
	cmd.SysProcAttr = attr
	return start(t, cmd, "program as root of a user namespace "+strings.Join(args, " ")).Wait(t)
}

// ipcNamespaceAttr is how to start a process in a new IPC namespace: as root,
// CLONE_NEWIPC; otherwise also a new user namespace in which this user is root.
func ipcNamespaceAttr() *syscall.SysProcAttr {
	if os.Geteuid() == 0 {
		return &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWIPC}
	}
	return &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWIPC | syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
	}
}

// tryNamespace starts /bin/true with attr, to learn whether the kernel allows it.
func tryNamespace(attr *syscall.SysProcAttr) error {
	cmd := exec.Command("/bin/true")
	cmd.SysProcAttr = attr
	return cmd.Run()
}

// StartHelperInIPCNamespace starts the helper registered as name in a new, private
// IPC namespace, made as RunProgramInIPCNamespace makes it. The helper sees none of
// the machine's segments and semaphore sets, and its /proc/sys/kernel/{shm*,sem,msg*}
// are its own: it may lower a limit to reach it without changing the machine's. What
// it creates goes away with the namespace when it exits. Where no namespace can be
// made the test is skipped, and says why.
func StartHelperInIPCNamespace(t testing.TB, name string, args ...string) *Proc {
	t.Helper()
	attr := ipcNamespaceAttr()
	if err := tryNamespace(attr); err != nil {
		t.Skipf("cannot start a process in a private IPC namespace here (%v): this test changes IPC limits, which it may only do there; run it as root to see it", err)
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(withoutHelper(), envHelper+"="+name)
	cmd.SysProcAttr = attr
	return start(t, cmd, "helper "+name+" in a private IPC namespace")
}
