//go:build linux

package sem

import (
	"fmt"
	"unsafe"
)

// SEMVMX is the largest value a semaphore can hold (<linux/sem.h>); SETVAL above
// it, or a semop that would take a value above it, fails with ERANGE. Unlike the
// other limits it is not a setting.
const SEMVMX = 32767

// Limits are the System V semaphore limits of this IPC namespace, and what is in
// use. The four settings are the fields of /proc/sys/kernel/sem, in its order:
// SEMMSL, SEMMNS, SEMOPM, SEMMNI (sysctl kernel.sem; a private IPC namespace,
// unshare --ipc, has its own).
type Limits struct {
	SEMMSL int // semaphores per set: semget with nsems above it fails with EINVAL
	SEMMNS int // semaphores in all sets together: a new set beyond it fails with ENOSPC
	SEMOPM int // operations in one semop: more fail with E2BIG
	SEMMNI int // sets: a new set beyond it fails with ENOSPC
	SEMVMX int // the largest value of a semaphore (32767)

	Sets       int // sets that exist now (semusz)
	Semaphores int // semaphores in them (semaem)
}

// seminfo is the kernel's struct seminfo (<linux/sem.h>): ten ints.
type seminfo struct {
	semmap, semmni, semmns, semmnu, semmsl, semopm, semume, semusz, semvmx, semaem int32
}

// ReadLimits asks the kernel for the limits and the usage: semctl(0, 0, SEM_INFO,
// &seminfo). With SEM_INFO (unlike IPC_INFO) semusz and semaem count the sets and
// semaphores that exist.
func ReadLimits() (Limits, error) {
	var si seminfo
	if _, errno := semctlBuf(0, 0, SEM_INFO, unsafe.Pointer(&si)); errno != 0 {
		return Limits{}, fmt.Errorf("semctl(0, 0, SEM_INFO, &seminfo): %w", errno)
	}
	return Limits{
		SEMMSL: int(si.semmsl), SEMMNS: int(si.semmns), SEMOPM: int(si.semopm), SEMMNI: int(si.semmni),
		SEMVMX: int(si.semvmx), Sets: int(si.semusz), Semaphores: int(si.semaem),
	}, nil
}
