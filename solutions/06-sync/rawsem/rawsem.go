//go:build linux

// Package rawsem is semop(2) called directly with unix.Syscall, and wait/post on
// a System V semaphore built on it. golang.org/x/sys/unix has no wrapper for
// semop; this is how one is written.
package rawsem

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Sembuf is C's struct sembuf (<sys/sem.h>): three 16-bit fields, 6 bytes, in this
// order. semop reads an array of them straight from memory, so the layout must
// match exactly; do not add, remove or reorder fields.
type Sembuf struct {
	Num uint16 // sem_num: which semaphore of the set (0, 1, ...)
	Op  int16  // sem_op: <0 wait until it can subtract, >0 add, 0 wait for zero
	Flg int16  // sem_flg: IPC_NOWAIT, SEM_UNDO
}

// SEM_UNDO is the semop flag that makes the kernel undo the operation when the
// process exits (<linux/sem.h>; x/sys does not define it).
const SEM_UNDO = 0x1000

// Semop performs ops on semaphore set id atomically — all of them or none — with
// the semop system call (unix.SYS_SEMOP), blocking as they require. It retries
// when a signal interrupts it (EINTR) and returns other failures as errors that
// wrap the errno. It fails with EINVAL, without a system call, if ops is empty.
func Semop(id int, ops ...Sembuf) error {
	if len(ops) == 0 {
		// &ops[0] would panic; the kernel would say EINVAL anyway (semop(2)).
		return fmt.Errorf("semop(%d): no operations: %w", id, unix.EINVAL)
	}
	for {
		// int semop(int semid, struct sembuf *sops, size_t nsops);
		_, _, errno := unix.Syscall(unix.SYS_SEMOP, uintptr(id),
			uintptr(unsafe.Pointer(&ops[0])), uintptr(len(ops)))
		switch errno {
		case 0:
			return nil
		case unix.EINTR:
			// A signal handler ran while we slept. semop is never restarted
			// automatically (signal(7)), and Go installs handlers, so go again.
			continue
		default:
			return fmt.Errorf("semop(%d, %v): %w", id, ops, errno)
		}
	}
}

// Wait subtracts 1 from semaphore num of set id, blocking while it is 0 (P).
func Wait(id, num int) error {
	return Semop(id, Sembuf{Num: uint16(num), Op: -1})
}

// Post adds 1 to semaphore num of set id, waking a waiter (V).
func Post(id, num int) error {
	return Semop(id, Sembuf{Num: uint16(num), Op: 1})
}

// TryWait is Wait that never blocks: if the value is 0 it fails at once with an
// error that wraps unix.EAGAIN.
func TryWait(id, num int) error {
	return Semop(id, Sembuf{Num: uint16(num), Op: -1, Flg: unix.IPC_NOWAIT})
}
