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
