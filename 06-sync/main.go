//go:build linux

// Command 06-sync: two processes, one buffer, no corruption.
//
//	go run ./06-sync race        lost updates without synchronisation; none with a semaphore or an atomic add
//	go run ./06-sync             a producer and a consumer process move a stream of messages through a ring
//	go run ./06-sync consumer    one side, in one terminal...
//	go run ./06-sync producer    ...the other side, in another (either order)
//	go run ./06-sync monitor     a third process that watches the ring while they stream
//
// See README.md for the layout, byte by byte, and the protocol.
package main

import (
	"strings"

	"github.com/learn-sysv/shm-course/internal/lesson"
)

const name = "06-sync"

const usage = `usage: go run ./06-sync [race|producer|consumer|monitor] [flags]

  race       two processes add 1 to a counter in one segment N times each: plainly
             (updates lost, or by luck not), with a pause between load and store
             (updates lost), with a semaphore and with an atomic add (none lost).
             Its flags:
               -n N       additions per process (default 200000)
               -every N   in the runs with a pause, sleep between the load and the
                          store once every N additions (default 100)
  (nothing)  start a consumer process and a producer process (this program again)
             that move -messages messages through a ring of -slots slots; they
             meet under a fresh key of their own unless you give one. With -step
             it pauses before each of its own steps and each of theirs, one
             Enter at a time
  consumer   be the consumer: create or open the segment under the key, wait for
             the producer, receive, check order and checksum, print a summary
  producer   be the producer: the same meeting, then send
  monitor    watch a running producer and consumer: attach their segment read-only,
             read their semaphores, redraw until the stream ends (flags -key,
             -keyfile, -proj, -wait)

The two sides meet through the key ftok(-keyfile, -proj), by default
ftok("/tmp", 6), or -key given as a number (0x... or decimal). Start them in
either order, in two terminals.

After a role, -h lists that role's flags; without one, those of the stream (the
launcher's, the consumer's and the producer's).`

func main() { lesson.Main(name, usage, run) }

// internal are the roles this program plays as its own second process, never
// typed by a person.
var internal = lesson.Roles{"race-adder": raceAdder}

// run dispatches on the role, the first argument, before parsing flags, so that
// ps shows "06-sync producer ..." and "06-sync consumer ...".
func run(l *lesson.Lesson, args []string) error {
	if handled, err := internal.Dispatch(l, args); handled {
		return err
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return launch(l, args)
	}
	switch role, rest := args[0], args[1:]; role {
	case "producer":
		return produce(l, rest)
	case "consumer":
		return consume(l, rest)
	case "monitor":
		return monitor(l, rest)
	case "race":
		return race(l, rest)
	default:
		return lesson.Usagef("unknown role %q: want race, producer, consumer, monitor or nothing", role)
	}
}
