//go:build linux

// Package ipcsrow reads a segment's shmid_ds with shmctl(IPC_STAT) and prints it as
// one row of `ipcs -m`.
package ipcsrow

import (
	"fmt"
	"os/user"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

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
	var ds unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds); err != nil {
		return Segment{}, fmt.Errorf("shmctl(%d, IPC_STAT): %w", id, err)
	}
	return Segment{
		Key:    uint32(ds.Perm.Key), // key_t is a signed int; ipcs prints its bits
		ID:     id,
		UID:    ds.Perm.Uid,
		Mode:   ds.Perm.Mode,
		Size:   ds.Segsz,
		Nattch: ds.Nattch,
		CPID:   int(ds.Cpid),
		LPID:   int(ds.Lpid),
	}, nil
}

// Format returns s as one row of `ipcs -m`, with owner as the owner column: key
// (0x%08x), shmid, owner (cut to 10 characters, as ipcs prints it with %-10.10s),
// perms (octal, without a leading 0), bytes, nattch, and the status words "dest"
// and "locked" if they apply, in that order, separated by spaces (how many does not
// matter).
func Format(s Segment, owner string) string {
	// The same widths as ipcs; %-10.10s pads to 10 characters and cuts at 10.
	row := fmt.Sprintf("0x%08x %-10d %-10.10s %-10o %-10d %-10d %s",
		s.Key, s.ID, owner, s.Mode&0o777, s.Size, s.Nattch, status(s.Mode))
	return strings.TrimRight(row, " ")
}

// Row returns segment id as `ipcs -m` prints it: Format of its Stat, with the user
// name of its owner (s.UID), or the uid as a number if no user has it.
func Row(id int) (string, error) {
	s, err := Stat(id)
	if err != nil {
		return "", err
	}
	return Format(s, owner(s.UID)), nil
}

// owner is the user name for uid, or the number when no user has it (as ipcs does).
func owner(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return id
}

// status is ipcs's last column: "dest" once IPC_RMID has marked the segment,
// "locked" after SHM_LOCK.
func status(mode uint32) string {
	var words []string
	if mode&SHM_DEST != 0 {
		words = append(words, "dest")
	}
	if mode&SHM_LOCKED != 0 {
		words = append(words, "locked")
	}
	return strings.Join(words, " ")
}
