//go:build linux

// Package cleaner removes orphaned System V shared memory segments — but only the
// caller's own, and only among the candidates the caller names.
package cleaner

import "errors"

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
	return nil, errors.New("TODO: implement RemoveOrphans (read README.md, then HINTS.md)")
}
