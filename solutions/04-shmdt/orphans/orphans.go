//go:build linux

// Package orphans finds orphaned System V shared memory segments: segments that
// nobody is attached to and whose creator has exited, so that nothing will ever
// detach and remove them.
package orphans

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Find returns the ids, among ids, of the segments that are orphaned: the segment
// exists, its shm_nattch is 0 and its creator process (shm_cpid) no longer exists.
// The result keeps the order of ids. An id whose segment no longer exists is
// skipped, not an error. Find only looks: it attaches, changes and removes nothing.
func Find(ids []int) ([]int, error) {
	var found []int
	for _, id := range ids {
		var ds unix.SysvShmDesc
		if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds); err != nil {
			if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EIDRM) {
				continue // gone already (shmctl(2): EINVAL for an invalid or removed id)
			}
			return nil, fmt.Errorf("shmctl(%d, IPC_STAT): %w", id, err)
		}
		if ds.Nattch == 0 && !alive(int(ds.Cpid)) {
			found = append(found, id)
		}
	}
	return found, nil
}

// alive reports whether process pid exists. kill(pid, 0) sends no signal but does
// the checks (kill(2)): ESRCH means there is no such process; EPERM means there is
// one, owned by someone we may not signal.
func alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
