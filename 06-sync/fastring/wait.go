//go:build linux

package fastring

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/06-sync/header"
	"github.com/learn-sysv/shm-course/internal/sem"
)

// Tuning, shared by every ring in the process; set before use.
var (
	// Spin is how long a side re-reads the other side's index before it sleeps.
	Spin = 50 * time.Microsecond
	// Poll is the longest single sleep on a semaphore; after each one the sleeper
	// checks that its peer is alive, so a dead peer is noticed within about Poll.
	Poll = 100 * time.Millisecond
)

// noRecheck breaks the protocol on purpose: the sleeper does not look at the index
// again after raising its flag. Only the test that proves the lost-wake-up test can
// fail sets it.
var noRecheck = false

// beforeFlag, if set, runs between the last look at the index and raising the
// flag: the tests use it to widen that window, where a lost wake-up would happen.
var beforeFlag func()

// Stats counts one end's semaphore system calls.
type Stats struct {
	Sleeps   int64 // semtimedop calls that went to sleep
	Timeouts int64 // of those, the ones that ended by timeout, not by a wake-up
	Posts    int64 // semop calls that woke the peer
}

// end is what the waiting code needs to know about one end of the ring.
type end struct {
	view
	set      *sem.Set
	hdr      header.Header
	me, peer header.Role
	myFlag   *uint32 // raised before sleeping
	peerFlag *uint32 // the peer's, checked after publishing
	mySem    int     // the semaphore this end sleeps on
	peerSem  int
	stats    Stats
}

// Stats returns this end's semaphore call counts so far.
func (e *end) Stats() Stats { return e.stats }

// wait returns when ready reports true; ready re-reads the other side's index. It
// spins for Spin, then sleeps on the semaphore as the package comment describes.
func (e *end) wait(ready func() bool) error {
	if spin(ready) {
		return nil
	}
	for {
		if beforeFlag != nil {
			beforeFlag()
		}
		// "I am going to sleep." This atomic store comes before the load in ready,
		// and the publisher stores its index before it loads this flag: at least one
		// of us sees the other's store (see the package comment).
		atomic.StoreUint32(e.myFlag, 1)
		if !noRecheck && ready() {
			e.cancelSleep()
			return nil
		}
		e.stats.Sleeps++
		err := e.set.WaitTimeout(e.mySem, false, Poll)
		switch {
		case err == nil:
			// Woken: the waker cleared the flag before posting.
		case errors.Is(err, sem.ErrTimeout):
			e.stats.Timeouts++
			e.cancelSleep()
			if err := e.hdr.PeerGone(e.peer); err != nil {
				return err
			}
		case removed(err):
			if ready() { // the peer finished and removed the set: not an error
				return nil
			}
			return e.removedError()
		default:
			return fmt.Errorf("fastring: waiting as the %v: %w", e.me, err)
		}
		if ready() {
			return nil
		}
	}
}

// spin re-reads the index for up to Spin. Spinning costs CPU but no system call,
// and a busy peer usually publishes within microseconds, while a sleep and a
// wake-up cost a system call on each side and two context switches.
func spin(ready func() bool) bool {
	if Spin <= 0 {
		return ready()
	}
	start := time.Now()
	for {
		for i := 0; i < 64; i++ {
			if ready() {
				return true
			}
		}
		// Let the rest of this process run: on a machine with fewer free CPUs than
		// busy threads, the peer may be waiting for this CPU.
		runtime.Gosched()
		if time.Since(start) > Spin {
			return ready()
		}
	}
}

// cancelSleep takes back "I am going to sleep". If the other side has already
// cleared the flag, it has posted (or is about to post) the semaphore: take that
// post now, so that the semaphore is 0 again and the next sleep really sleeps.
func (e *end) cancelSleep() {
	if atomic.CompareAndSwapUint32(e.myFlag, 1, 0) {
		return
	}
	// The post is a few instructions away, unless the waker died just now; then the
	// timeout lets go, and a late post costs one early wake-up, nothing more.
	_ = e.set.WaitTimeout(e.mySem, false, Poll)
}

// wake is called after publishing: if the other side said it is going to sleep,
// clear its flag and post its semaphore. Only the side that clears the flag posts,
// so one sleep gets at most one post.
func (e *end) wake() error {
	if atomic.LoadUint32(e.peerFlag) == 0 {
		return nil // the common case: no system call
	}
	if !atomic.CompareAndSwapUint32(e.peerFlag, 1, 0) {
		return nil // the sleeper took its flag back itself
	}
	e.stats.Posts++
	if err := e.set.Post(e.peerSem, false); err != nil {
		if removed(err) {
			return e.removedError()
		}
		return fmt.Errorf("fastring: waking the %v: %w", e.peer, err)
	}
	return nil
}

// removed reports whether err means the set is gone: EIDRM if it went while we
// waited, EINVAL if it was already gone when we called.
func removed(err error) bool {
	return errors.Is(err, sem.ErrRemoved) || errors.Is(err, unix.EINVAL)
}

func (e *end) removedError() error {
	return &header.PeerGoneError{Role: e.peer, Pid: e.hdr.Pid(e.peer), How: "the semaphore set was removed under us"}
}
