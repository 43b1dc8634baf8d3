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

import "golang.org/x/sys/unix"

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
