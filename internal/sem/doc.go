// Package sem is a small Go API over System V semaphores: semget(2), semop(2),
// semtimedop(2) and semctl(2).
//
// golang.org/x/sys/unix has no wrappers for these calls, so the package makes them
// with unix.Syscall and the unix.SYS_SEMGET, SYS_SEMOP, SYS_SEMTIMEDOP and
// SYS_SEMCTL numbers, passing structures laid out as the kernel expects (sys.go).
// A pointer passed that way becomes a uintptr only inside the argument list of the
// Syscall call itself, never earlier: sys.go explains why, and
// TestStatAtManyStackDepths shows what goes wrong otherwise.
//
// What it adds to the raw calls, and why:
//
//   - Race-free initialisation. semget creates a set with unspecified values, so the
//     creator and an opener race: the opener may use the set before the creator has
//     set its values. The classic fix (Stevens, UNIX Network Programming vol. 2) is
//     used: the creator wins IPC_CREAT|IPC_EXCL, sets the values, and makes its last
//     step one semop (one operation that leaves every value as asked), which makes
//     sem_otime non-zero; an opener waits until sem_otime is
//     non-zero before it trusts the set (Create, Open).
//   - EINTR. semop is never restarted after a signal handler, whatever SA_RESTART
//     says (signal(7)), and the Go runtime sends its threads signals of its own, so
//     every blocking call here retries on EINTR (with the remaining time, for a timed
//     wait).
//   - Errors that tell the truth. A failed call returns an *Error that spells the
//     call as C would (semop(5, {{0, -1, SEM_UNDO}}, 1)), its errno, and what causes
//     that errno here, with the numbers: which limit of /proc/sys/kernel/sem was
//     reached and how many sets and semaphores exist (semctl SEM_INFO, ReadLimits),
//     which value would pass SEMVMX. A wait interrupted because the set was removed
//     matches ErrRemoved (EIDRM), and so does a semop made after the removal on a
//     set the Set had seen exist (EINVAL: the kernel has forgotten the id, so the
//     errno cannot say "removed"; the Set remembers); a timed wait that expires,
//     ErrTimeout (EAGAIN).
//     errors.Is works with both the sentinel and the errno.
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
