//go:build linux

package sem

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
)

// Set is a System V semaphore set.
type Set struct {
	id int
	// existed: this Set has seen the set exist (Create or Open returned it, or a
	// semop on it succeeded). A semop that then answers EINVAL finds it removed.
	existed atomic.Bool
}

// FromID returns the set with the given id (from semget, or passed by another
// process), without checking that it exists.
func FromID(id int) *Set { return &Set{id: id} }

// known returns the Set for id, a set that exists (Create, Open).
func known(id int) *Set {
	s := &Set{id: id}
	s.existed.Store(true)
	return s
}

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

// Create creates a new set of len(values) semaphores for key with the permission
// bits mode (for example 0600) and sets semaphore i to values[i] (0 to SEMVMX). It
// fails with EEXIST if a set with that key exists (ftok.Private always makes a new
// one). The last step of the initialisation is a semop, so that sem_otime becomes
// non-zero: the signal Open waits for (see initialise).
func Create(key ftok.Key, mode int, values ...int) (*Set, error) {
	if len(values) == 0 {
		return nil, errors.New("sem.Create: need at least one semaphore value")
	}
	for i, v := range values {
		if v < 0 || v > SEMVMX {
			return nil, fmt.Errorf("sem.Create: value %d for semaphore %d: a semaphore holds 0 to %d (SEMVMX)", v, i, SEMVMX)
		}
	}
	id, errno := semget(key, len(values), unix.IPC_CREAT|unix.IPC_EXCL|(mode&0o777))
	if errno != 0 {
		return nil, semgetError(key, len(values), createFlags(mode), true, errno)
	}
	s := known(id)
	if err := s.initialise(values); err != nil {
		_ = s.Remove()
		return nil, err
	}
	return s, nil
}

// initialise sets the values, the last step being one semop with one operation:
// semget leaves sem_otime at 0 and SETVAL does not change it, and an opener waits
// until it is non-zero (Open). The semop must leave every value as asked, whatever
// it is, SEMVMX included:
//
//   - if a semaphore i is to start at 0: SETVAL every value, then {i, 0, IPC_NOWAIT},
//     "wait until semaphore i is zero", which it is, so the call changes nothing
//     and returns at once;
//   - if none is: SETVAL semaphore 0 to one less than asked, then {0, +1, 0}.
//
// (Not +1 and -1 in one semop: on a semaphore at SEMVMX the +1 fails with ERANGE,
// since the kernel applies the operations in order and checks each; and one
// operation keeps within any SEMOPM.) SETVAL and the semop record this process as
// the last to operate on the semaphore (semctl GETPID).
func (s *Set) initialise(values []int) error {
	last := Op{Num: 0, Delta: +1}
	for i, v := range values {
		if v == 0 {
			last = Op{Num: uint16(i), Delta: 0, Flags: unix.IPC_NOWAIT}
			break
		}
	}
	for i, v := range values {
		if i == int(last.Num) {
			v -= int(last.Delta)
		}
		if err := s.SetValue(i, v); err != nil {
			return err
		}
	}
	return s.Do(last)
}

// Open returns the existing set for key once its creator has initialised it. It
// waits up to timeout for the set to appear and for sem_otime to become non-zero,
// and returns ErrTimeout if that does not happen.
func Open(key ftok.Key, timeout time.Duration) (*Set, error) {
	deadline := time.Now().Add(timeout)
	for {
		id, errno := semget(key, 0, 0)
		if errno == 0 {
			s := known(id)
			ready, err := s.initialised()
			if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EIDRM) {
				return nil, err
			}
			if ready {
				return s, nil
			}
		} else if errno != unix.ENOENT {
			return nil, semgetError(key, 0, "0", false, errno)
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
		errno := semop(s.id, ops, nil)
		switch errno {
		case 0:
			s.existed.Store(true)
			return nil
		case unix.EINTR:
			continue
		}
		return s.semopError(ops, -1, errno)
	}
}

// DoTimeout is Do that gives up after d with ErrTimeout (semtimedop(2)).
func (s *Set) DoTimeout(d time.Duration, ops ...Op) error {
	deadline := time.Now().Add(d)
	for {
		left := max(time.Until(deadline), 0)
		ts := unix.NsecToTimespec(left.Nanoseconds())
		errno := semop(s.id, ops, &ts)
		switch errno {
		case 0:
			s.existed.Store(true)
			return nil
		case unix.EINTR:
			continue // with the time that is left
		}
		return s.semopError(ops, d, errno)
	}
}

// Value returns semaphore num's current value (semctl GETVAL).
func (s *Set) Value(num int) (int, error) {
	v, errno := semctlVal(s.id, num, GETVAL, 0)
	if errno != 0 {
		return 0, s.semctlError(fmt.Sprintf("semctl(%d, %d, GETVAL)", s.id, num), 0, errno)
	}
	return v, nil
}

// SetValue sets semaphore num to v (semctl SETVAL). Waiters that can now proceed
// wake up; undo records for it are cleared in every process.
func (s *Set) SetValue(num, v int) error {
	if _, errno := semctlVal(s.id, num, SETVAL, v); errno != 0 {
		return s.semctlError(fmt.Sprintf("semctl(%d, %d, SETVAL, %d)", s.id, num, v), v, errno)
	}
	return nil
}

// Waiting returns how many processes wait for semaphore num to increase
// (semctl GETNCNT).
func (s *Set) Waiting(num int) (int, error) {
	n, errno := semctlVal(s.id, num, GETNCNT, 0)
	if errno != 0 {
		return 0, s.semctlError(fmt.Sprintf("semctl(%d, %d, GETNCNT)", s.id, num), 0, errno)
	}
	return n, nil
}

// LastPid returns the pid of the last process that operated on semaphore num
// (semctl GETPID).
func (s *Set) LastPid(num int) (int, error) {
	pid, errno := semctlVal(s.id, num, GETPID, 0)
	if errno != 0 {
		return 0, s.semctlError(fmt.Sprintf("semctl(%d, %d, GETPID)", s.id, num), 0, errno)
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
	// &ds goes to the kernel as an unsafe.Pointer, and becomes a uintptr only in
	// the Syscall line (sys.go explains why).
	if _, errno := semctlBuf(s.id, 0, unix.IPC_STAT, unsafe.Pointer(&ds)); errno != 0 {
		return Info{}, s.semctlError(fmt.Sprintf("semctl(%d, 0, IPC_STAT, &ds)", s.id), 0, errno)
	}
	info := Info{Perm: ds.Perm, Ctime: time.Unix(ds.Ctime, 0), NSems: int(ds.Nsems)}
	if ds.Otime != 0 {
		info.Otime = time.Unix(ds.Otime, 0)
	}
	return info, nil
}

// Remove removes the set at once (semctl IPC_RMID). Every process waiting on it
// wakes up with EIDRM, and a later semop on it fails with EINVAL (the id names no
// set any more); this package reports both as ErrRemoved.
func (s *Set) Remove() error {
	if _, errno := semctlVal(s.id, 0, unix.IPC_RMID, 0); errno != 0 {
		return s.semctlError(fmt.Sprintf("semctl(%d, 0, IPC_RMID)", s.id), 0, errno)
	}
	return nil
}
