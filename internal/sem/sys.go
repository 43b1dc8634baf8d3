//go:build linux

package sem

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
)

// The system calls, raw: x/sys has no wrappers for them.
//
// # unsafe.Pointer and uintptr: the rule for system calls
//
// A system call takes every argument as a machine word, so a pointer must become a
// uintptr (unix.Syscall's parameters are uintptr). A uintptr is only a number: the
// garbage collector does not know that it points anywhere. If the variable it was
// made from lives on a goroutine's stack, and the stack grows before the kernel
// writes through the number, the runtime copies the stack elsewhere and updates every
// real pointer into it, but not the number: the kernel then writes into the old,
// freed stack, and the variable keeps its zero value. Stat once passed
// uintptr(unsafe.Pointer(&ds)) through an ordinary function, and returned NSems 0
// and Otime 0 at 7 to 14 of the 1500 stack depths TestStatAtManyStackDepths tries
// (it depends on the build): the depths at which the call had to grow the stack.
//
// The rule (the unsafe package's documentation, case 4): the conversion
// uintptr(unsafe.Pointer(p)) may appear only in the argument list of the call to
// unix.Syscall (or Syscall6, RawSyscall) itself. The compiler knows those functions
// and keeps the object alive and in place until the call returns; nothing can move
// between the conversion and the kernel's use. So the functions below take
// unsafe.Pointer, a real pointer that the runtime updates when the stack moves, and
// convert it in the Syscall line and nowhere else. (The other way to obey the rule,
// a function marked //go:uintptrescapes, moves the object to the heap.)

// Commands of semctl(2) that golang.org/x/sys/unix does not define, under their C
// names (<linux/sem.h>, <linux/ipc.h>).
const (
	IPC_INFO = 3  // semctl: the system's limits, in a struct seminfo
	SEM_INFO = 19 // semctl: the limits, and how many sets and semaphores exist
)

// Each returns the kernel's errno, 0 for success.

func semget(key ftok.Key, nsems, flags int) (int, unix.Errno) {
	id, _, errno := unix.Syscall(unix.SYS_SEMGET, uintptr(key), uintptr(nsems), uintptr(flags))
	return int(id), errno
}

// semop calls semtimedop(2), which is semop(2) when timeout is nil.
func semop(id int, ops []Op, timeout *unix.Timespec) unix.Errno {
	if len(ops) == 0 {
		return unix.EINVAL // nsops must be at least 1 (and &ops[0] would panic)
	}
	_, _, errno := unix.Syscall6(unix.SYS_SEMTIMEDOP, uintptr(id),
		uintptr(unsafe.Pointer(&ops[0])), uintptr(len(ops)), uintptr(unsafe.Pointer(timeout)), 0, 0)
	return errno
}

// semctlVal is semctl(2) for the commands whose fourth argument is a number, or
// unused: GETVAL, GETPID, GETNCNT, IPC_RMID take none, SETVAL the value itself (the
// fourth argument is a union semun, and the system call receives the int in its
// place).
func semctlVal(id, num, cmd, val int) (int, unix.Errno) {
	r, _, errno := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), uintptr(num), uintptr(cmd), uintptr(val), 0, 0)
	return int(r), errno
}

// semctlBuf is semctl(2) for the commands whose fourth argument points to a buffer
// the kernel reads or writes (IPC_STAT, IPC_INFO, SEM_INFO). buf stays a pointer up
// to the Syscall line, where it becomes a uintptr inside the argument list (see the
// rule above).
func semctlBuf(id, num, cmd int, buf unsafe.Pointer) (int, unix.Errno) {
	r, _, errno := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), uintptr(num), uintptr(cmd), uintptr(buf), 0, 0)
	return int(r), errno
}
