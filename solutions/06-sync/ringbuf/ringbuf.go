//go:build linux

// Package ringbuf is a bounded buffer of uint64 messages in a System V shared
// memory segment, shared by any number of producer and consumer processes and
// guarded by three System V semaphores.
package ringbuf

import (
	"encoding/binary"
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
	// Claim a free slot. No SEM_UNDO on Empty and Full: they count slots, not
	// locks, and a process that exits must not take its messages back with it.
	if err := r.set.Wait(Empty, false); err != nil {
		return fmt.Errorf("ringbuf: waiting for a free slot: %w", err)
	}
	err := r.locked(func() {
		head := r.word(HeadOffset)
		r.setWord(SlotsOffset+8*int(head%Slots), v)
		r.setWord(HeadOffset, head+1)
	})
	if err != nil {
		return err
	}
	if err := r.set.Post(Full, false); err != nil {
		return fmt.Errorf("ringbuf: announcing a message: %w", err)
	}
	return nil
}

// Get removes and returns the oldest message, waiting while the ring is empty.
func (r *Ring) Get() (uint64, error) {
	if err := r.set.Wait(Full, false); err != nil {
		return 0, fmt.Errorf("ringbuf: waiting for a message: %w", err)
	}
	var v uint64
	err := r.locked(func() {
		tail := r.word(TailOffset)
		v = r.word(SlotsOffset + 8*int(tail%Slots))
		r.setWord(TailOffset, tail+1)
	})
	if err != nil {
		return 0, err
	}
	if err := r.set.Post(Empty, false); err != nil {
		return 0, fmt.Errorf("ringbuf: freeing a slot: %w", err)
	}
	return v, nil
}

// locked runs fn holding Mutex. With SEM_UNDO the kernel releases the mutex if
// this process dies inside fn (it cannot repair a half-written slot, though).
// semop also orders memory (the kernel takes locks inside it): what one process
// wrote before posting Mutex is visible to the next process whose wait succeeds.
func (r *Ring) locked(fn func()) error {
	if err := r.set.Wait(Mutex, true); err != nil {
		return fmt.Errorf("ringbuf: taking the mutex: %w", err)
	}
	fn()
	if err := r.set.Post(Mutex, true); err != nil {
		return fmt.Errorf("ringbuf: releasing the mutex: %w", err)
	}
	return nil
}

func (r *Ring) word(off int) uint64 { return binary.LittleEndian.Uint64(r.mem[off:]) }

func (r *Ring) setWord(off int, v uint64) { binary.LittleEndian.PutUint64(r.mem[off:], v) }
