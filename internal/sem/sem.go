//go:build linux

package sem

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
)

// Set is a System V semaphore set.
type Set struct {
	id int
}

// FromID returns the set with the given id (from semget, or passed by another
// process), without checking that it exists.
func FromID(id int) *Set { return &Set{id: id} }

// ID is the set's identifier, the semid that semop and semctl take.
func (s *Set) ID() int { return s.id }

// Op is one semaphore operation, C's struct sembuf: semaphore Num changes by Delta.
// A negative Delta waits until it can be subtracted; zero waits for the value to be
// 0; a positive Delta adds. Flags may hold unix.IPC_NOWAIT and SEM_UNDO.
type Op struct {
	Num   uint16 // sem_num
	Delta int16  // sem_op
	Flags int16  // sem_flg
}

// Constants from <linux/sem.h> that golang.org/x/sys/unix does not define, under
// their C names so that they can be looked up in semop(2) and semctl(2).
const (
	SEM_UNDO = 0x1000 // semop flag: undo the operation when the process exits

	GETPID  = 11 // semctl: pid of the last process to operate on the semaphore
	GETVAL  = 12 // semctl: the semaphore's value
	GETALL  = 13 // semctl: all values
	GETNCNT = 14 // semctl: how many wait for the value to increase
	GETZCNT = 15 // semctl: how many wait for the value to become zero
	SETVAL  = 16 // semctl: set one value
	SETALL  = 17 // semctl: set all values
)

// Errors that name what happened.
var (
	// ErrRemoved: the set was removed while the caller waited (EIDRM).
	ErrRemoved error = errnoError{unix.EIDRM, "the semaphore set was removed (EIDRM)"}
	// ErrTimeout: a timed wait expired (EAGAIN from semtimedop).
	ErrTimeout error = errnoError{unix.EAGAIN, "timed out waiting for the semaphore (EAGAIN)"}
	// ErrWouldBlock: an IPC_NOWAIT operation would have had to wait (EAGAIN).
	ErrWouldBlock error = errnoError{unix.EAGAIN, "the operation would block (EAGAIN with IPC_NOWAIT)"}
)

// errnoError is a sentinel error that also matches its errno with errors.Is.
type errnoError struct {
	errno unix.Errno
	text  string
}

func (e errnoError) Error() string        { return e.text }
func (e errnoError) Is(target error) bool { return target == e.errno }

// Create creates a new set of len(values) semaphores for key with the permission
// bits mode (for example 0600) and sets semaphore i to values[i]. It fails with
// EEXIST if a set with that key exists (ftok.Private always makes a new one). After
// the values are set it performs one semop that changes nothing, so that sem_otime
// becomes non-zero: the signal Open waits for.
func Create(key ftok.Key, mode int, values ...int) (*Set, error) {
	if len(values) == 0 {
		return nil, errors.New("sem.Create: need at least one semaphore value")
	}
	id, err := semget(key, len(values), unix.IPC_CREAT|unix.IPC_EXCL|(mode&0o777))
	if err != nil {
		return nil, fmt.Errorf("semget(%v, %d, IPC_CREAT|IPC_EXCL|%#o): %w", key, len(values), mode&0o777, err)
	}
	s := &Set{id: id}
	if err := s.initialise(values); err != nil {
		_ = s.Remove()
		return nil, err
	}
	return s, nil
}

func (s *Set) initialise(values []int) error {
	for i, v := range values {
		if err := s.SetValue(i, v); err != nil {
			return err
		}
	}
	// +1 then -1 on semaphore 0 in one atomic semop: no value changes, but the
	// kernel records the time of the operation in sem_otime.
	return s.Do(Op{Num: 0, Delta: 1}, Op{Num: 0, Delta: -1})
}

// Open returns the existing set for key once its creator has initialised it. It
// waits up to timeout for the set to appear and for sem_otime to become non-zero,
// and returns ErrTimeout if that does not happen.
func Open(key ftok.Key, timeout time.Duration) (*Set, error) {
	deadline := time.Now().Add(timeout)
	for {
		id, err := semget(key, 0, 0)
		if err == nil {
			s := &Set{id: id}
			ready, err := s.initialised()
			if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EIDRM) {
				return nil, err
			}
			if ready {
				return s, nil
			}
		} else if !errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("semget(%v, 0, 0): %w", key, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("opening semaphore set %v: no initialised set appeared within %v: %w", key, timeout, ErrTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// initialised reports whether sem_otime is non-zero: whether anyone has operated on
// the set since it was created.
func (s *Set) initialised() (bool, error) {
	info, err := s.Stat()
	if err != nil {
		return false, err
	}
	return !info.Otime.IsZero(), nil
}

// Wait decrements semaphore num by one, blocking while it is zero (P, "down").
// With undo the kernel reverses the decrement if this process exits first.
func (s *Set) Wait(num int, undo bool) error {
	return s.Do(Op{Num: uint16(num), Delta: -1, Flags: undoFlag(undo)})
}

// Post increments semaphore num by one, waking a waiter (V, "up").
func (s *Set) Post(num int, undo bool) error {
	return s.Do(Op{Num: uint16(num), Delta: 1, Flags: undoFlag(undo)})
}

// WaitTimeout is Wait that gives up after d with ErrTimeout.
func (s *Set) WaitTimeout(num int, undo bool, d time.Duration) error {
	return s.DoTimeout(d, Op{Num: uint16(num), Delta: -1, Flags: undoFlag(undo)})
}

// TryWait is Wait that never blocks: it returns ErrWouldBlock if the value is zero.
func (s *Set) TryWait(num int, undo bool) error {
	return s.Do(Op{Num: uint16(num), Delta: -1, Flags: undoFlag(undo) | unix.IPC_NOWAIT})
}

func undoFlag(undo bool) int16 {
	if undo {
		return SEM_UNDO
	}
	return 0
}

// Do performs ops atomically, all or none (semop(2)), blocking as they require.
// It retries when a signal interrupts it (EINTR).
func (s *Set) Do(ops ...Op) error {
	for {
		err := semop(s.id, ops, nil)
		if err != unix.EINTR {
			return s.explain("semop", ops, err)
		}
	}
}

// DoTimeout is Do that gives up after d with ErrTimeout (semtimedop(2)).
func (s *Set) DoTimeout(d time.Duration, ops ...Op) error {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left < 0 {
			left = 0
		}
		ts := unix.NsecToTimespec(left.Nanoseconds())
		err := semop(s.id, ops, &ts)
		if err != unix.EINTR {
			return s.explain("semtimedop", ops, err)
		}
	}
}

// explain turns a semop errno into the package's errors.
func (s *Set) explain(call string, ops []Op, err error) error {
	switch {
	case err == nil:
		return nil
	case err == unix.EIDRM:
		return ErrRemoved
	case err == unix.EAGAIN && call == "semtimedop" && !nowait(ops):
		return ErrTimeout
	case err == unix.EAGAIN:
		return ErrWouldBlock
	default:
		return fmt.Errorf("%s(%d, %v): %w", call, s.id, ops, err)
	}
}

func nowait(ops []Op) bool {
	for _, op := range ops {
		if op.Flags&unix.IPC_NOWAIT != 0 {
			return true
		}
	}
	return false
}

// Value returns semaphore num's current value (semctl GETVAL).
func (s *Set) Value(num int) (int, error) {
	v, err := semctl(s.id, num, GETVAL, 0)
	if err != nil {
		return 0, fmt.Errorf("semctl(%d, %d, GETVAL): %w", s.id, num, err)
	}
	return v, nil
}

// SetValue sets semaphore num to v (semctl SETVAL). Waiters that can now proceed
// wake up; undo records for it are cleared in every process.
func (s *Set) SetValue(num, v int) error {
	// The fourth argument of semctl is a union; for SETVAL it holds the int value
	// itself, which the system call receives in the union's place.
	if _, err := semctl(s.id, num, SETVAL, uintptr(v)); err != nil {
		return fmt.Errorf("semctl(%d, %d, SETVAL, %d): %w", s.id, num, v, err)
	}
	return nil
}

// Waiting returns how many processes wait for semaphore num to increase
// (semctl GETNCNT).
func (s *Set) Waiting(num int) (int, error) {
	n, err := semctl(s.id, num, GETNCNT, 0)
	if err != nil {
		return 0, fmt.Errorf("semctl(%d, %d, GETNCNT): %w", s.id, num, err)
	}
	return n, nil
}

// LastPid returns the pid of the last process that operated on semaphore num
// (semctl GETPID).
func (s *Set) LastPid(num int) (int, error) {
	pid, err := semctl(s.id, num, GETPID, 0)
	if err != nil {
		return 0, fmt.Errorf("semctl(%d, %d, GETPID): %w", s.id, num, err)
	}
	return pid, nil
}

// Info is what semctl IPC_STAT reports of a set.
type Info struct {
	Perm  unix.SysvIpcPerm
	Otime time.Time // last semop; zero if none yet
	Ctime time.Time // creation or last IPC_SET
	NSems int
}

// Stat returns the set's semid_ds (semctl IPC_STAT).
func (s *Set) Stat() (Info, error) {
	var ds semidDS
	if _, err := semctl(s.id, 0, unix.IPC_STAT, uintptr(unsafe.Pointer(&ds))); err != nil {
		return Info{}, fmt.Errorf("semctl(%d, 0, IPC_STAT): %w", s.id, err)
	}
	info := Info{Perm: ds.Perm, Ctime: time.Unix(ds.Ctime, 0), NSems: int(ds.Nsems)}
	if ds.Otime != 0 {
		info.Otime = time.Unix(ds.Otime, 0)
	}
	return info, nil
}

// Remove removes the set at once (semctl IPC_RMID). Every process waiting on it
// wakes up with EIDRM, which this package reports as ErrRemoved.
func (s *Set) Remove() error {
	if _, err := semctl(s.id, 0, unix.IPC_RMID, 0); err != nil {
		return fmt.Errorf("semctl(%d, 0, IPC_RMID): %w", s.id, err)
	}
	return nil
}

// The system calls.

func semget(key ftok.Key, nsems, flags int) (int, error) {
	id, _, errno := unix.Syscall(unix.SYS_SEMGET, uintptr(key), uintptr(nsems), uintptr(flags))
	if errno != 0 {
		return -1, errno
	}
	return int(id), nil
}

// semop calls semtimedop(2), which is semop(2) when timeout is nil.
func semop(id int, ops []Op, timeout *unix.Timespec) error {
	if len(ops) == 0 {
		return unix.EINVAL // nsops must be at least 1
	}
	_, _, errno := unix.Syscall6(unix.SYS_SEMTIMEDOP, uintptr(id),
		uintptr(unsafe.Pointer(&ops[0])), uintptr(len(ops)), uintptr(unsafe.Pointer(timeout)), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func semctl(id, num, cmd int, arg uintptr) (int, error) {
	r, _, errno := unix.Syscall6(unix.SYS_SEMCTL, uintptr(id), uintptr(num), uintptr(cmd), arg, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}
