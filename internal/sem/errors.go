//go:build linux

package sem

import (
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
)

// Errors that name what happened. The calls return an *Error that matches one of
// these with errors.Is (and its errno too).
var (
	// ErrRemoved: the set was removed, while the caller waited (EIDRM) or before
	// its semop (EINVAL: the id names no set any more; only for a Set that has
	// seen the set exist, see Set). For a process that uses the set, both are the
	// same event: whoever removed it did so a moment earlier or later.
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

// Error is a semaphore system call that failed: the call as C spells it, the errno
// the kernel returned, and what causes that errno for this call, found out from the
// set and the system's limits when the error happened. For example:
//
//	semop(5, {{0, +1, 0}}, 1): ERANGE (numerical result out of range): semaphore 0 is 32767, and +1 would take it above SEMVMX (32767)
//
// errors.Is matches its errno, and ErrRemoved, ErrTimeout or ErrWouldBlock where
// the errno means one of them.
type Error struct {
	Call  string     // "semget(0x06001234, 2, IPC_CREAT|IPC_EXCL|0600)"
	Errno unix.Errno // what the kernel returned
	Cause string     // what causes that errno here
	is    error      // ErrRemoved, ErrTimeout, ErrWouldBlock or nil
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s (%v): %s", e.Call, unix.ErrnoName(e.Errno), e.Errno, e.Cause)
}

// Unwrap returns the errno, so errors.Is(err, unix.EEXIST) works.
func (e *Error) Unwrap() error { return e.Errno }

// Is matches the sentinel the errno stands for.
func (e *Error) Is(target error) bool { return e.is != nil && target == e.is }

// String prints an operation as C's struct sembuf initialiser: {sem_num, sem_op,
// sem_flg}, e.g. {0, -1, SEM_UNDO}.
func (o Op) String() string {
	return fmt.Sprintf("{%d, %+d, %s}", o.Num, o.Delta, flagNames(o.Flags))
}

func flagNames(f int16) string {
	var names []string
	if f&unix.IPC_NOWAIT != 0 {
		names = append(names, "IPC_NOWAIT")
		f &^= unix.IPC_NOWAIT
	}
	if f&SEM_UNDO != 0 {
		names = append(names, "SEM_UNDO")
		f &^= SEM_UNDO
	}
	if f != 0 || len(names) == 0 {
		names = append(names, fmt.Sprintf("%#o", f))
	}
	return strings.Join(names, "|")
}

// opsString prints an array of operations as C's initialiser: {{0, +1, 0}, {1, -1, 0}}.
func opsString(ops []Op) string {
	parts := make([]string, len(ops))
	for i, op := range ops {
		parts[i] = op.String()
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// semopCall spells a semop or semtimedop call as C does; timeout < 0 means semop.
func semopCall(id int, ops []Op, timeout time.Duration) string {
	if timeout < 0 {
		return fmt.Sprintf("semop(%d, %s, %d)", id, opsString(ops), len(ops))
	}
	ts := unix.NsecToTimespec(timeout.Nanoseconds())
	return fmt.Sprintf("semtimedop(%d, %s, %d, {%d, %d})", id, opsString(ops), len(ops), ts.Sec, ts.Nsec)
}

func createFlags(mode int) string { return fmt.Sprintf("IPC_CREAT|IPC_EXCL|%#o", mode&0o777) }

// The limits' places in /proc/sys/kernel/sem, for the messages.
const semFile = "/proc/sys/kernel/sem"

// semgetError explains a failed semget(key, nsems, ...).
func semgetError(key ftok.Key, nsems int, flags string, creating bool, errno unix.Errno) error {
	k := key.String()
	if key == ftok.Private {
		k = "IPC_PRIVATE"
	}
	e := &Error{Call: fmt.Sprintf("semget(%s, %d, %s)", k, nsems, flags), Errno: errno}
	lim, limErr := ReadLimits()
	switch errno {
	case unix.EEXIST:
		e.Cause = "a set with this key exists already (IPC_CREAT|IPC_EXCL create only a new one)"
	case unix.ENOENT:
		e.Cause = "no set has this key, and IPC_CREAT was not given"
	case unix.EACCES:
		e.Cause = "the set exists and its mode does not give this user the access asked for"
	case unix.ENOMEM:
		e.Cause = "the kernel could not allocate memory for the set"
	case unix.EINVAL:
		switch {
		case limErr == nil && nsems > lim.SEMMSL:
			e.Cause = fmt.Sprintf("nsems %d is above SEMMSL, the most semaphores a set may have (%d: the 1st field of %s)", nsems, lim.SEMMSL, semFile)
		case nsems < 0:
			e.Cause = "nsems is negative"
		case creating && nsems == 0:
			e.Cause = "a new set needs at least one semaphore"
		default:
			e.Cause = fmt.Sprintf("the set that has this key has fewer than %d semaphores", nsems)
		}
	case unix.ENOSPC:
		switch {
		case limErr != nil:
			e.Cause = fmt.Sprintf("a limit of SEMMNI (sets) or SEMMNS (semaphores in all sets) in %s was reached", semFile)
		case lim.Sets >= lim.SEMMNI || lim.Semaphores+nsems > lim.SEMMNS:
			var causes []string
			if lim.Semaphores+nsems > lim.SEMMNS {
				causes = append(causes, fmt.Sprintf("SEMMNS reached: %s in all sets, and %d more would pass the limit of %d (the 2nd field of %s)", plural(lim.Semaphores, "semaphore exists", "semaphores exist"), nsems, lim.SEMMNS, semFile))
			}
			if lim.Sets >= lim.SEMMNI {
				causes = append(causes, fmt.Sprintf("SEMMNI reached: %s, the most the system allows (the 4th field of %s)", plural(lim.Sets, "set exists", "sets exist"), semFile))
			}
			e.Cause = strings.Join(causes, "; and ")
		default:
			e.Cause = fmt.Sprintf("SEMMNI (%d sets) or SEMMNS (%d semaphores) was reached when semget ran; %d sets and %d semaphores exist now", lim.SEMMNI, lim.SEMMNS, lim.Sets, lim.Semaphores)
		}
	default:
		e.Cause = "see semget(2)"
	}
	return e
}

// plural is "1 set exists" or "2 sets exist".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// semopError explains a failed semop or semtimedop on s (timeout < 0: semop).
func (s *Set) semopError(ops []Op, timeout time.Duration, errno unix.Errno) error {
	e := &Error{Call: semopCall(s.id, ops, timeout), Errno: errno}
	switch errno {
	case unix.EIDRM:
		e.Cause, e.is = "the set was removed while this process waited", ErrRemoved
	case unix.EAGAIN:
		if nowait(ops) {
			e.Cause, e.is = "IPC_NOWAIT, and the operations would have had to wait", ErrWouldBlock
		} else {
			e.Cause, e.is = "the timeout expired before the operations could be performed", ErrTimeout
		}
	case unix.E2BIG:
		e.Cause = fmt.Sprintf("%d operations in one call", len(ops))
		if lim, err := ReadLimits(); err == nil {
			e.Cause += fmt.Sprintf(", more than SEMOPM allows (%d: the 3rd field of %s)", lim.SEMOPM, semFile)
		}
	case unix.ERANGE:
		e.Cause = s.rangeCause(ops)
	case unix.EFBIG:
		e.Cause = "a sem_num is not below the number of semaphores in the set"
		if info, err := s.Stat(); err == nil {
			e.Cause = fmt.Sprintf("a sem_num is not below the set's %d semaphores", info.NSems)
		}
	case unix.EINVAL:
		// semtimedop(2) answers EINVAL for nsops < 1, a negative id, a timeout out
		// of range (never made here), or an id that names no set.
		switch {
		case len(ops) == 0:
			e.Cause = "no operations: nsops must be at least 1"
		case s.existed.Load():
			e.Cause, e.is = fmt.Sprintf("no set has id %d any more: it was removed before this call", s.id), ErrRemoved
		default:
			e.Cause = fmt.Sprintf("no set has id %d: it was removed before the call, or never existed", s.id)
		}
	case unix.EACCES:
		e.Cause = "this user may not operate on the set (sem_op != 0 needs write permission, sem_op == 0 read)"
	case unix.ENOMEM:
		e.Cause = "SEM_UNDO, and the kernel could not allocate this process's undo structure"
	default:
		e.Cause = "see semop(2)"
	}
	return e
}

// rangeCause finds the operation that passed SEMVMX.
func (s *Set) rangeCause(ops []Op) string {
	for _, op := range ops {
		if op.Delta <= 0 {
			continue
		}
		if v, err := s.Value(int(op.Num)); err == nil && v+int(op.Delta) > SEMVMX {
			return fmt.Sprintf("semaphore %d is %d, and %+d would take it above SEMVMX (%d)", op.Num, v, op.Delta, SEMVMX)
		}
	}
	return fmt.Sprintf("a value would pass SEMVMX (%d), or with SEM_UNDO this process's adjustment of a semaphore would leave -%d..%d", SEMVMX, SEMVMX+1, SEMVMX)
}

func nowait(ops []Op) bool {
	for _, op := range ops {
		if op.Flags&unix.IPC_NOWAIT != 0 {
			return true
		}
	}
	return false
}

// semctlError explains a failed semctl; call is the call as C spells it, and val
// the value SETVAL tried to set.
func (s *Set) semctlError(call string, val int, errno unix.Errno) error {
	e := &Error{Call: call, Errno: errno}
	switch errno {
	case unix.EINVAL:
		e.Cause = fmt.Sprintf("no set has id %d (it was removed, or never existed), or the command or semnum is not valid for it", s.id)
	case unix.EIDRM:
		e.Cause, e.is = "the set was removed", ErrRemoved
	case unix.ERANGE:
		e.Cause = fmt.Sprintf("%d is outside 0..%d (SEMVMX)", val, SEMVMX)
	case unix.EACCES:
		e.Cause = "this user may not do that to the set (read permission for GETVAL, GETPID, GETNCNT and IPC_STAT; write for SETVAL)"
	case unix.EPERM:
		e.Cause = "only the set's owner, its creator or a process with CAP_SYS_ADMIN may remove it"
	default:
		e.Cause = "see semctl(2)"
	}
	return e
}
