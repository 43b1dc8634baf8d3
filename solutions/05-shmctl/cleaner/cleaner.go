//go:build linux

// Package cleaner removes orphaned System V shared memory segments — but only the
// caller's own, and only among the candidates the caller names.
package cleaner

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// RemoveOrphans removes (shmctl IPC_RMID) each segment among candidates that
//
//   - still exists (a missing id is skipped),
//   - is owned by this process's effective user (shm_perm.uid == geteuid()),
//   - has no attachment (shm_nattch == 0), and
//   - whose creator process (shm_cpid) has exited (no such process, or a zombie),
//
// and returns the ids it removed, in the order of candidates. A segment this
// process may not even read (IPC_STAT fails with EACCES) cannot be checked: skip it.
// It never touches a segment that is not among candidates.
func RemoveOrphans(candidates []int) ([]int, error) {
	me := uint32(os.Geteuid())
	var removed []int
	for _, id := range candidates {
		var ds unix.SysvShmDesc
		_, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds)
		switch {
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.EIDRM):
			continue // already gone
		case errors.Is(err, unix.EACCES):
			continue // we may not read it, so we cannot check it (even our own, at mode 0000)
		case err != nil:
			return removed, fmt.Errorf("shmctl(%d, IPC_STAT): %w", id, err)
		}
		if !orphanOf(me, &ds) {
			continue
		}
		if _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); err != nil {
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EIDRM) {
				continue // someone removed it between our two calls
			}
			return removed, fmt.Errorf("shmctl(%d, IPC_RMID): %w", id, err)
		}
		removed = append(removed, id)
	}
	return removed, nil
}

// orphanOf reports whether the segment described by ds belongs to uid and has
// been abandoned. The owner is shm_perm.uid, not the creator (shm_perm.cuid):
// IPC_SET can give a segment away, and the kernel would still let its creator
// remove it (shmctl(2)) — which is exactly what a cleaner must not do.
func orphanOf(uid uint32, ds *unix.SysvShmDesc) bool {
	return ds.Perm.Uid == uid && ds.Nattch == 0 && !alive(int(ds.Cpid))
}

// alive reports whether process pid is running: kill(pid, 0) checks without
// sending a signal (EPERM means it exists but is another user's), and a zombie, which
// kill still finds, shows state Z in /proc/PID/stat (see 04-shmdt/orphans).
func alive(pid int) bool {
	if err := unix.Kill(pid, 0); err != nil && !errors.Is(err, unix.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // kill found it: when in doubt, keep the segment
	}
	i := bytes.LastIndexByte(stat, ')') // the name may hold ')': the state follows the last one
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
