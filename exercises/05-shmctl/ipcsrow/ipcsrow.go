//go:build linux

// Package ipcsrow reads a segment's shmid_ds with shmctl(IPC_STAT) and prints it as
// one row of `ipcs -m`.
package ipcsrow

import "errors"

// Mode bits the kernel adds to shm_perm.mode (<linux/shm.h>; golang.org/x/sys/unix
// does not define them).
const (
	SHM_DEST   = 0o1000 // marked for removal: destroyed at the last detach
	SHM_LOCKED = 0o2000 // locked in memory with shmctl(SHM_LOCK)
)

// Segment is what `ipcs -m` shows of one segment, as shmctl(IPC_STAT) reports it.
type Segment struct {
	Key    uint32 // shm_perm.__key: 0 for IPC_PRIVATE and for a segment marked for removal
	ID     int    // the shmid
	UID    uint32 // shm_perm.uid: the owner
	Mode   uint32 // shm_perm.mode: the permission bits, plus SHM_DEST and SHM_LOCKED
	Size   uint64 // shm_segsz: the size asked for at creation
	Nattch uint64 // shm_nattch: current attachments
	CPID   int    // shm_cpid: the creator's pid
	LPID   int    // shm_lpid: the pid of the last shmat or shmdt
}

// Stat returns segment id's Segment, from shmctl(id, IPC_STAT, &ds). Its error
// wraps the errno.
func Stat(id int) (Segment, error) {
	return Segment{}, errors.New("TODO: implement Stat (read README.md, then HINTS.md)")
}

// Format returns s as one row of `ipcs -m`, with owner as the owner column: key
// (0x%08x), shmid, owner (cut to 10 characters, as ipcs prints it with %-10.10s),
// perms (octal, without a leading 0), bytes, nattch, and the status words "dest"
// and "locked" if they apply, in that order, separated by spaces (how many does not
// matter).
func Format(s Segment, owner string) string {
	return "TODO: implement Format (read README.md, then HINTS.md)"
}

// Row returns segment id as `ipcs -m` prints it: Format of its Stat, with the user
// name of its owner (s.UID), or the uid as a number if no user has it.
func Row(id int) (string, error) {
	return "", errors.New("TODO: implement Row (read README.md, then HINTS.md)")
}
