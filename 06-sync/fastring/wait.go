//go:build linux

package fastring

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

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
		// "I am going to sleep." This store comes before the load in ready, and the
		// publisher stores its index before it loads this flag: at least one of us
		// sees the other's store (see the package comment and storeThenLoad).
		raise(e.myFlag)
		if !noRecheck && ready() {
			e.cancelSleep()
			return nil
		}
		e.stats.Sleeps++
		err := e.set.WaitTimeout(e.mySem, false, Poll)
		switch {
		case err == nil:
			// Woken. The waker cleared my flag before it posted; if the flag is
			// still raised, the post was a stale one (see cancelSleep): lower the
			// flag, so that flag and semaphore are both 0 again.
			atomic.CompareAndSwapUint32(e.myFlag, 1, 0)
		case errors.Is(err, sem.ErrTimeout):
			e.stats.Timeouts++
			e.cancelSleep()
			// Liveness first, then the condition: a peer that is dead now has made
			// its last store already, so if ready() is false after that, it never
			// will be. The other order could call a peer gone that finished its
			// part (stored the index we wait for) and exited just before the check.
			gone := e.hdr.PeerGone(e.peer)
			if ready() {
				return nil
			}
			if gone != nil {
				return gone
			}
		case errors.Is(err, sem.ErrRemoved): // EIDRM asleep, or EINVAL: gone before the call
			if ready() { // the peer finished and removed the set: not an error
				return nil
			}
			return e.removedError(err)
		default:
			return fmt.Errorf("fastring: waiting as the %v: %w", e.me, err)
		}
		if ready() {
			return nil
		}
	}
}

// The protocol's two stores that a load of the other side's field follows: raising
// my flag before I look at the other side's index, and publishing my index before
// I look at the other side's flag. Each is a Swap, not a Store, for the race
// detector's sake: in a -race build a Store into memory outside the Go heap (the
// segment) is a plain MOV, which the CPU lets a later load overtake, and wake-ups
// get lost; a Swap is a locked XCHG in every build (README.md, "Why the order
// holds"; TestStoreThenLoadIsOrdered). In an ordinary build on amd64 a Store is an
// XCHG already, so the Swap costs nothing more.
func raise(flag *uint32)               { atomic.SwapUint32(flag, 1) }
func publishIndex(p *uint64, v uint64) { atomic.SwapUint64(p, v) }

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
//
// The post is a few instructions away, unless the waker was stopped between
// clearing the flag and posting (descheduled on a busy machine, or killed): then
// the timeout lets go, and the post, if it ever comes, is stale: it arrives with
// nobody asleep for it, and the semaphore stays at 1. The next sleep on it returns
// at once; wait finds its flag still raised (nobody cleared it for that sleep),
// lowers it, looks at the index and sleeps again. A stale post costs one early
// return, and can never lose a wake-up: every return from the semaphore is
// followed by a look at the index.
func (e *end) cancelSleep() {
	if atomic.CompareAndSwapUint32(e.myFlag, 1, 0) {
		return
	}
	_ = e.set.WaitTimeout(e.mySem, false, Poll)
}

// wake is called after publishing: if the other side said it is going to sleep,
// clear its flag and post its semaphore. Only the side that clears the flag posts,
// so one sleep gets at most one post.
//
// A post that finds the set removed (EIDRM, or EINVAL when it was gone before the
// call) is not an error here: there is nobody left to wake. The peer removed it
// because it finished (a consumer that took the end marker, a producer whose Close
// saw everything taken) or because it stopped; the next wait tells which, since it
// looks at the index before it reports the set removed.
func (e *end) wake() error {
	if atomic.LoadUint32(e.peerFlag) == 0 {
		return nil // the common case: no system call
	}
	if !atomic.CompareAndSwapUint32(e.peerFlag, 1, 0) {
		return nil // the sleeper took its flag back itself
	}
	e.stats.Posts++
	if err := e.set.Post(e.peerSem, false); err != nil && !errors.Is(err, sem.ErrRemoved) {
		return fmt.Errorf("fastring: waking the %v: %w", e.peer, err)
	}
	return nil
}

// removedError says that the set was removed while this side still needed it. It
// is a *header.PeerGoneError (the peer's cleanup removes the set when it stops) that
// also matches sem.ErrRemoved with errors.Is, as err does: EIDRM if the set went
// while this side slept, EINVAL if it was gone when it called.
func (e *end) removedError(err error) error {
	return &header.PeerGoneError{Role: e.peer, Pid: e.hdr.Pid(e.peer), How: "the semaphore set was removed under us", Err: err}
}
