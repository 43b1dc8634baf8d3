//go:build linux

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// Step 13's words in the lab: how many counting processes have arrived (a uint32
// after step 12's flag) and the counter (a uint64 at bytes 8 to 16, 8-aligned).
const (
	arrivedOff = labOff + 4
	counterOff = labOff + 8
)

// countFor is how long each counting process adds 1: long enough that the two run
// at the same time even on a busy machine, whose scheduler may let one process run
// for milliseconds while the other waits.
const countFor = 300 * time.Millisecond

// raceDetector is step 13. Two processes (runCounter) add 1 to one counter in the
// segment for countFor, with a plain read-modify-write, and say how many times they
// did: the counter ends lower than the sum, because updates were lost. Built with
// -race, neither process reports anything: the race detector records only accesses
// to memory the Go runtime allocated, and the segment is not that.
func (t *tour) raceDetector() error {
	l := t.l
	l.Step("Go trap: the race detector cannot see the segment")
	counter := (*uint64)(unsafe.Pointer(&t.first[counterOff]))
	atomic.StoreUint64(counter, 0)
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&t.first[arrivedOff])), 0)
	l.Call("%s %s %d    (twice: two processes doing counter++ for %v, no synchronisation)", name, roleCounter, t.id, countFor)
	var stderr [2]bytes.Buffer
	var counters [2]*lesson.Child
	for i := range counters {
		p, err := startRole(l, &stderr[i], roleCounter, strconv.Itoa(t.id))
		if err != nil {
			return err
		}
		counters[i] = p
		if _, err := p.Await("READY"); err != nil {
			return err
		}
	}
	for _, p := range counters {
		if err := p.Send("GO"); err != nil {
			return err
		}
	}
	var attempts uint64
	for _, p := range counters {
		fields, err := p.Await("DONE")
		if err != nil {
			return err
		}
		n, err := strconv.ParseUint(strings.Join(fields, ""), 10, 64)
		if err != nil {
			return fmt.Errorf("the counter (pid %d) said DONE %q, not a number", p.Pid, fields)
		}
		attempts += n
		if err := p.Finish(); err != nil {
			return fmt.Errorf("the counter (pid %d): %w", p.Pid, err)
		}
	}
	total := atomic.LoadUint64(counter)
	l.Look("od -A d -t u8 -j %d -N 8 /proc/%d/map_files/%s    (as root: the counter, from outside)", counterOff, os.Getpid(), mapsRange(shm.Addr(t.first)))
	if total < attempts {
		l.Result("the counter reads %d after %d increments: %d were lost", total, attempts, attempts-total)
		l.Say("counter++ is a read, an add and a write. When both processes read the same value,")
		l.Say("both write that value plus one, and one increment is gone (lesson 06 shows the fix).")
	} else {
		l.Result("the counter reads %d after %d increments: this time none was lost", total, attempts)
		l.Say("The two processes never ran at the same moment on two CPUs (a busy machine can give")
		l.Say("them turns on one): run again. Nothing prevented the loss; luck did.")
	}
	both := stderr[0].String() + stderr[1].String()
	switch {
	case strings.Contains(both, "DATA RACE"):
		l.Result("a race report appeared:")
		l.Excerpt(both, 3)
	case raceEnabled:
		l.Result("both processes were built with -race, as this program is, and neither reported a race")
	default:
		l.Result("no race report (this program is built without -race; go run -race ./03-shmat says nothing either)")
	}
	l.Say("The race detector records accesses to memory the Go runtime allocated, its heap and")
	l.Say("its globals, and skips every other address (racecalladdr in runtime/race_amd64.s). A")
	l.Say("segment is mapped by shmat, so its reads and writes are not recorded at all: not")
	l.Say("between two goroutines of one process, and never another process's. go test -race")
	l.Say("passing proves nothing about a segment. sync/atomic, or a semaphore (lesson 06), does.")
	return nil
}

// countPlain adds 1 to *c n times, with a plain read-modify-write: the mistake.
//
//go:noinline
func countPlain(c *uint64, n int) {
	for i := 0; i < n; i++ {
		*c++
	}
}

// runCounter is a second process of step 13: it attaches the segment, says READY,
// and on GO waits at the start line until the other counter has arrived too (so that
// the two count at the same time, not one after the other); then it counts for
// countFor and tells the parent how many times it added 1 (DONE N). Without GO (the
// parent went away) or without the other counter within a few seconds it gives up.
func runCounter(l *lesson.Lesson, args []string) error {
	b, err := attachParents(l, args, 0)
	if err != nil {
		return err
	}
	l.Tell("READY")
	if _, err := bufio.NewReader(l.In).ReadString('\n'); err != nil {
		return errors.New("the parent went away before saying GO")
	}
	arrived := (*uint32)(unsafe.Pointer(&b[arrivedOff]))
	atomic.AddUint32(arrived, 1)
	for giveUp := time.Now().Add(5 * time.Second); atomic.LoadUint32(arrived) < 2; {
		if time.Now().After(giveUp) {
			return errors.New("the other counter did not come to the start line")
		}
		runtime.Gosched() // at the start line, waiting for the other counter
	}
	c := (*uint64)(unsafe.Pointer(&b[counterOff]))
	const batch = 1 << 16
	var n uint64
	for end := time.Now().Add(countFor); time.Now().Before(end); n += batch {
		countPlain(c, batch)
	}
	l.Result("did counter++ %d times", n)
	l.Tell("DONE", n)
	return detachRole(l, b)
}
