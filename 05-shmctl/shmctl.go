//go:build linux

package main

// The shmctl commands x/sys/unix does not name, the structures they fill, and the
// ipcs-style printer. main.go tells the story; this file is what it calls.

import (
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
)

// Linux's shmctl commands beyond POSIX's IPC_RMID (0), IPC_SET (1) and IPC_STAT (2),
// with the values <sys/shm.h> and <linux/shm.h> give them. See shmctl(2).
const (
	cmdIPCInfo   = 3  // IPC_INFO: system-wide limits into a struct shminfo
	cmdSHMLock   = 11 // SHM_LOCK: keep the segment's pages in RAM
	cmdSHMUnlock = 12 // SHM_UNLOCK: let them be swapped again
	cmdSHMStat   = 13 // SHM_STAT: IPC_STAT by index into the kernel's table; returns the id
	cmdSHMInfo   = 14 // SHM_INFO: system-wide usage into a struct shm_info
)

// Bits the kernel keeps in shm_perm.mode above the nine permission bits.
const (
	shmDest   = 0o1000 // SHM_DEST: IPC_RMID was called; destroyed at the last detach
	shmLocked = 0o2000 // SHM_LOCKED: SHM_LOCK was called
	permBits  = 0o777  // what IPC_SET may change
)

// shmLimits is the kernel's struct shminfo64, which IPC_INFO fills. Go's uint is as
// wide as C's unsigned long on Linux, so on 64-bit Linux this is 9 × 8 = 72 bytes,
// the same as glibc's struct shminfo (the test checks it with gcc).
type shmLimits struct {
	Shmmax uint    // largest segment in bytes: /proc/sys/kernel/shmmax
	Shmmin uint    // smallest segment in bytes: always 1
	Shmmni uint    // most segments in the system: /proc/sys/kernel/shmmni
	Shmseg uint    // most segments per process: reported as shmmni, never enforced
	Shmall uint    // most pages of shared memory in the system: /proc/sys/kernel/shmall
	_      [4]uint // unused, reserved
}

// shmUsage is the kernel's struct shm_info, which SHM_INFO fills: an int, then
// five unsigned longs. Go pads after UsedIDs as C does, so it is 48 bytes on 64-bit
// Linux.
type shmUsage struct {
	UsedIDs       int32 // segments that exist now (marked ones included)
	ShmTot        uint  // pages allocated: each segment's size rounded up to pages
	ShmRSS        uint  // of those, pages in RAM
	ShmSwp        uint  // of those, pages in swap
	SwapAttempts  uint  // unused since Linux 2.4: always 0
	SwapSuccesses uint  // unused since Linux 2.4: always 0
}

// ipc64 is IPC_64 from <linux/ipc.h>: on a few architectures shmctl answers with
// the old, smaller structures unless cmd carries it. glibc and x/sys's SysvShmCtl
// add it there; so must a raw call.
const ipc64 = 0x100

// shmctl is the raw system call, for the commands whose buffer is not a shmid_ds.
// x/sys's SysvShmCtl only accepts a *SysvShmDesc.
func shmctl(id, cmd int, buf unsafe.Pointer) (int, error) {
	if runtime.GOARCH == "arm" || runtime.GOARCH == "mips64" || runtime.GOARCH == "mips64le" {
		cmd |= ipc64 // as x/sys's SysvShmCtl does
	}
	r, _, errno := unix.Syscall(unix.SYS_SHMCTL, uintptr(id), uintptr(cmd), uintptr(buf))
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// ipcInfo calls shmctl(0, IPC_INFO, &limits). The id is ignored (it must not be
// negative); the return value is the highest index in use in the kernel's table.
func ipcInfo() (limits shmLimits, maxIndex int, err error) {
	maxIndex, err = shmctl(0, cmdIPCInfo, unsafe.Pointer(&limits))
	return limits, maxIndex, err
}

// shmInfo calls shmctl(0, SHM_INFO, &usage); it returns the highest index too.
func shmInfo() (usage shmUsage, maxIndex int, err error) {
	maxIndex, err = shmctl(0, cmdSHMInfo, unsafe.Pointer(&usage))
	return usage, maxIndex, err
}

// stat is IPC_STAT: a copy of the segment's shmid_ds. It needs read permission.
func stat(id int) (unix.SysvShmDesc, error) {
	var ds unix.SysvShmDesc
	_, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds)
	return ds, err
}

// statIndex is SHM_STAT: IPC_STAT for the segment at index in the kernel's table,
// returning its id. Empty slots give EINVAL. This is how ipcs listed segments before
// /proc/sysvipc/shm existed.
func statIndex(index int) (id int, ds unix.SysvShmDesc, err error) {
	id, err = unix.SysvShmCtl(index, cmdSHMStat, &ds)
	return id, ds, err
}

// findIndex walks the kernel's table with SHM_STAT up to maxIndex and returns the
// index that holds segment id, or -1.
func findIndex(id, maxIndex int) int {
	for i := 0; i <= maxIndex; i++ {
		if got, _, err := statIndex(i); err == nil && got == id {
			return i
		}
	}
	return -1
}

// status is the "status" column of ipcs -m: "dest" for a segment marked for
// removal, "locked" for one held in RAM by SHM_LOCK.
func status(mode uint32) string {
	s := ""
	if mode&shmDest != 0 {
		s = "dest"
	}
	if mode&shmLocked != 0 {
		if s != "" {
			s += " "
		}
		s += "locked"
	}
	if s == "" {
		return "-"
	}
	return s
}

// ipcsLines is ds as `ipcs -m -i ID` prints it (util-linux 2.38), one string a
// line, with one line added: ipcs -m -i leaves out the key (ipcs -m shows it), and
// the key is what IPC_RMID changes. Times print in loc, as ctime(3) does.
func ipcsLines(id int, ds *unix.SysvShmDesc, loc *time.Location) []string {
	return []string{
		fmt.Sprintf("Shared memory Segment shmid=%d", id),
		fmt.Sprintf("key=%v", ftok.Key(ds.Perm.Key)),
		fmt.Sprintf("uid=%d\tgid=%d\tcuid=%d\tcgid=%d", ds.Perm.Uid, ds.Perm.Gid, ds.Perm.Cuid, ds.Perm.Cgid),
		fmt.Sprintf("mode=%#o\taccess_perms=%#o", ds.Perm.Mode, ds.Perm.Mode&permBits),
		fmt.Sprintf("bytes=%d\tlpid=%d\tcpid=%d\tnattch=%d", ds.Segsz, ds.Lpid, ds.Cpid, ds.Nattch),
		"att_time=" + ctime(int64(ds.Atime), loc),
		"det_time=" + ctime(int64(ds.Dtime), loc),
		"change_time=" + ctime(int64(ds.Ctime), loc),
	}
}

// ctime formats seconds since the epoch as ctime(3) does, or "Not set" for 0 (never).
func ctime(sec int64, loc *time.Location) string {
	if sec == 0 {
		return "Not set"
	}
	return time.Unix(sec, 0).In(loc).Format(time.ANSIC)
}
