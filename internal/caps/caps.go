//go:build linux

// Package caps says which capabilities (capabilities(7)) this process has.
//
// Root usually has every capability, but not always: a container drops some (Docker
// leaves out CAP_SYS_ADMIN and CAP_IPC_OWNER, among others, unless it is started with
// --cap-add), and so can a service manager. So code that relies on what root may do
// asks for the capability it needs, not whether the user id is 0: CAP_IPC_OWNER
// skips the permission checks of System V IPC, CAP_SYS_ADMIN lets a process change
// or remove another user's object and create IPC namespaces.
package caps

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Has reports whether this process has capability c (unix.CAP_IPC_OWNER, ...) in its
// effective set, the one the kernel checks (capget(2); /proc/self/status shows the
// same set as CapEff).
func Has(c int) bool {
	if c < 0 || c >= 64 {
		return false
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3} // pid 0: this thread
	var data [2]unix.CapUserData                                        // version 3: 64 bits in two halves
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[c/32].Effective&(1<<(c%32)) != 0
}

// HasOverIPC reports whether this process has capability c and it counts for the
// System V objects it sees. The kernel checks CAP_IPC_OWNER (and CAP_SYS_ADMIN) on
// an IPC object against the user namespace that owns the IPC namespace
// (ipc_namespaces(7), user_namespaces(7)). Root of a user namespace made without a
// new IPC namespace (`unshare -r`) has every capability in its effective set, yet
// none of them counts for the machine's objects; with one (`unshare -r --ipc`) they
// count for the new namespace's.
func HasOverIPC(c int) bool {
	return Has(c) && ipcNamespaceIsOurs()
}

// ipcNamespaceIsOurs reports whether this process's IPC namespace is owned by its
// user namespace, or the process is in the initial user namespace, whose
// capabilities count in every namespace.
func ipcNamespaceIsOurs() bool {
	if InitialUserNamespace() {
		return true
	}
	ipc, err := os.Open("/proc/self/ns/ipc")
	if err != nil {
		return true
	}
	defer ipc.Close()
	// ioctl_ns(2): NS_GET_USERNS gives a descriptor of the owning user namespace;
	// EPERM when that is an ancestor of ours, outside our view: not ours.
	fd, err := unix.IoctlRetInt(int(ipc.Fd()), unix.NS_GET_USERNS)
	if err == unix.EPERM {
		return false
	}
	if err != nil {
		return true // a kernel without the ioctl: assume the capability counts
	}
	defer unix.Close(fd)
	var owner, ours unix.Stat_t
	if unix.Fstat(fd, &owner) != nil || unix.Stat("/proc/self/ns/user", &ours) != nil {
		return true
	}
	return owner.Ino == ours.Ino && owner.Dev == ours.Dev
}

// HasInInitialNamespace reports whether this process has capability c and it counts
// for checks the kernel makes against the initial user namespace (capable(), not
// ns_capable()): CAP_IPC_LOCK for SHM_HUGETLB, for one. Root of any user namespace
// but the first has it in its effective set to no effect there.
func HasInInitialNamespace(c int) bool {
	return Has(c) && InitialUserNamespace()
}

// InitialUserNamespace reports whether this process is in the initial user
// namespace, whose uid_map maps every uid to itself (or the kernel has no user
// namespaces at all).
func InitialUserNamespace() bool {
	m, err := os.ReadFile("/proc/self/uid_map")
	return err != nil || strings.Join(strings.Fields(string(m)), " ") == "0 0 4294967295"
}
