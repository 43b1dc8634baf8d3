//go:build linux

package procsysv

import (
	"fmt"
	"os"
	"strings"
)

// ShmRmidForcedPath is the sysctl kernel.shm_rmid_forced. Like the other IPC
// sysctls it belongs to the reader's IPC namespace: a container, or a process
// started with unshare --ipc, has its own. A variable, so that tests can point it
// elsewhere.
var ShmRmidForcedPath = "/proc/sys/kernel/shm_rmid_forced"

// ShmRmidForced reports whether kernel.shm_rmid_forced is 1 in this process's IPC
// namespace. Then the kernel destroys a segment as soon as its attach count drops to
// 0 (a detach, an exit, an exec), as if IPC_RMID had been called, and a segment
// never attached when the process that created it exits. The default, 0, keeps a
// segment until IPC_RMID (proc(5); the kernel's Documentation/admin-guide/sysctl/kernel.rst).
func ShmRmidForced() (bool, error) {
	b, err := os.ReadFile(ShmRmidForcedPath)
	if err != nil {
		return false, err
	}
	switch v := strings.TrimSpace(string(b)); v {
	case "0":
		return false, nil
	case "1":
		return true, nil
	default:
		return false, fmt.Errorf("%s holds %q, not 0 or 1", ShmRmidForcedPath, v)
	}
}

// DetachWouldDestroy reports whether a process that attaches segment id now and
// detaches it again would destroy it: with kernel.shm_rmid_forced 1, a detach that
// leaves nothing attached destroys the segment, so merely looking at a segment that
// nothing else has attached (attach, read, detach) removes it. Where the setting
// cannot be read it counts as 0, the default. A segment that does not exist gives
// false: there is nothing to destroy, and attaching it fails anyway.
func DetachWouldDestroy(id int) (bool, error) {
	forced, err := ShmRmidForced()
	if err != nil || !forced {
		return false, nil
	}
	s, ok, err := FindShm(id)
	if err != nil {
		return false, err
	}
	return ok && s.Nattch == 0, nil
}
