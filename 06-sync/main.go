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
	"github.com/learn-sysv/shm-course/internal/lesson"
)

const name = "06-sync"

const usage = `usage: go run ./06-sync [race|producer|consumer|monitor] [flags]

  race       two processes add 1 to a counter in one segment N times each:
             without synchronisation (updates lost), with a semaphore, with an atomic add
  (nothing)  start a consumer process and a producer process (this program again)
             that move -messages messages through a ring of -slots slots
  consumer   be the consumer: create or open the segment under the key, wait for
             the producer, receive, check order and checksum, print a summary
  producer   be the producer: the same meeting, then send
  monitor    watch a running producer and consumer: attach their segment read-only,
             read their semaphores, redraw until the stream ends (flags -key,
             -keyfile, -proj, -wait)

The two sides meet through the key ftok(-keyfile, -proj), by default
ftok("/tmp", 6), or -key given as a number (0x...). Start them in either order.`

func main() { lesson.Main(name, usage, run) }

// run dispatches on the role, the first argument, before parsing flags, so that
// ps shows "06-sync producer ..." and "06-sync consumer ...".
func run(l *lesson.Lesson, args []string) error {
	role := ""
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		role, args = args[0], args[1:]
	}
	switch role {
	case "":
		return launch(l, args)
	case "producer":
		return produce(l, args)
	case "consumer":
		return consume(l, args)
	case "monitor":
		return monitor(l, args)
	case "race":
		return race(l, args)
	case "race-adder":
		return raceAdder(l, args)
	}
	return lesson.Usagef("unknown role %q: want race, producer, consumer, monitor or nothing", role)
}
