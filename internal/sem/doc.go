// Package sem is a small Go API over System V semaphores: semget(2), semop(2),
// semtimedop(2) and semctl(2).
//
// golang.org/x/sys/unix has no wrappers for these calls, so the package makes them
// with unix.Syscall and the unix.SYS_SEMGET, SYS_SEMOP, SYS_SEMTIMEDOP and
// SYS_SEMCTL numbers, passing structures laid out as the kernel expects.
//
// What it adds to the raw calls, and why:
//
//   - Race-free initialisation. semget creates a set with unspecified values, so the
//     creator and an opener race: the opener may use the set before the creator has
//     set its values. The classic fix (Stevens, UNIX Network Programming vol. 2) is
//     used: the creator wins IPC_CREAT|IPC_EXCL, sets the values, then performs one
//     semop, which makes sem_otime non-zero; an opener waits until sem_otime is
//     non-zero before it trusts the set (Create, Open).
//   - EINTR. semop is never restarted after a signal handler, whatever SA_RESTART
//     says (signal(7)), and the Go runtime sends its threads signals of its own, so
//     every blocking call here retries on EINTR (with the remaining time, for a timed
//     wait).
//   - Clear errors. A wait interrupted because the set was removed returns ErrRemoved
//     ("the semaphore set was removed", EIDRM); a timed wait that expires returns
//     ErrTimeout (EAGAIN). errors.Is works with both the sentinel and the errno.
//
// Semaphores are numbered from 0 within a set. A wait (P) subtracts 1 and blocks
// while that would make the value negative; a post (V) adds 1 and wakes waiters.
// With undo (SEM_UNDO) the kernel records each operation and reverses it when the
// process exits, so a process killed while holding a lock does not keep it forever;
// it cannot repair the data the lock protected.
//
// The code is built on Linux only, like the rest of the course, and supports 64-bit
// architectures (the layout of struct semid_ds differs on 32-bit ones).
package sem
