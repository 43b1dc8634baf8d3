//go:build linux

// Package ringbuf is a bounded buffer of uint64 messages in a System V shared
// memory segment, shared by any number of producer and consumer processes and
// guarded by three System V semaphores.
package ringbuf

import (
	"errors"
	"fmt"

	"github.com/learn-sysv/shm-course/internal/sem"
)

// Slots is how many messages the ring holds.
const Slots = 8

// The segment's layout: little-endian uint64 words, no Go pointers (every process
// sees the segment at its own address).
const (
	HeadOffset  = 0  // head: how many messages were ever put; the next Put writes slot head % Slots
	TailOffset  = 8  // tail: how many messages were ever taken; the next Get reads slot tail % Slots
	SlotsOffset = 16 // slot i is the 8 bytes at SlotsOffset + 8*i
	Size        = SlotsOffset + 8*Slots
)

// The semaphores of the set, by number, and the values they start with.
const (
	Empty = 0 // free slots: starts at Slots; Put waits on it, Get posts it
	Full  = 1 // filled slots: starts at 0; Get waits on it, Put posts it
	Mutex = 2 // 1 while nobody is changing head, tail or a slot: starts at 1
)

// Ring is one process's handle on the ring: its attachment of the segment and
// the semaphore set.
type Ring struct {
	mem []byte
	set *sem.Set
}

// New returns the ring in mem (a segment of at least Size bytes, zero-filled when
// created) guarded by set (Slots, 0, 1 at first).
func New(mem []byte, set *sem.Set) (*Ring, error) {
	if len(mem) < Size {
		return nil, fmt.Errorf("ringbuf: the segment has %d bytes, the ring needs %d", len(mem), Size)
	}
	return &Ring{mem: mem, set: set}, nil
}

// Put appends v to the ring, waiting while it is full.
func (r *Ring) Put(v uint64) error {
	return errors.New("TODO: implement Put (read README.md, then HINTS.md)")
}

// Get removes and returns the oldest message, waiting while the ring is empty.
func (r *Ring) Get() (uint64, error) {
	return 0, errors.New("TODO: implement Get (read README.md, then HINTS.md)")
}
