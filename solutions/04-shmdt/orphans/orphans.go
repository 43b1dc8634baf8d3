//go:build linux

// Package orphans finds orphaned System V shared memory segments: segments that
// nobody is attached to and whose creator has exited, so that nothing will ever
// detach and remove them.
package orphans

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Find returns the ids, among ids, of the segments that are orphaned: the segment
// exists, its shm_nattch is 0 and its creator process (shm_cpid) has exited: it no
// longer exists, or it is a zombie (exited, its status not yet collected by its parent).
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

// alive reports whether process pid is running. kill(pid, 0) sends no signal but
// does the checks (kill(2)): ESRCH means there is no such process; EPERM means there
// is one, owned by someone we may not signal. A zombie passes that check too: it has
// exited, but its pid stays taken until its parent collects its exit status. Its
// state in /proc/PID/stat ("1234 (name) Z ...") tells it apart.
func alive(pid int) bool {
	if err := unix.Kill(pid, 0); err != nil && !errors.Is(err, unix.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // kill found it; we may not look closer (hidepid), so keep it
	}
	// The name may hold spaces and parentheses: the state follows the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
