//go:build linux

package fastring

import (
	"sync/atomic"
)

// State is the fast ring's header as a process that only watches sees it at one
// moment: the monitor of 06-sync, which attaches the segment read-only (SHM_RDONLY).
// Observe and ObserveRecord only load, never store, so they work through such an
// attachment.
type State struct {
	Capacity         uint64 // bytes in the data area
	Tail             uint64 // bytes the producer has published so far
	Head             uint64 // bytes the consumer has finished with so far
	ConsumerSleeping bool   // the consumer's flag: it is going to sleep, or asleep, on SemData
	ProducerSleeping bool   // the producer's flag: it is going to sleep, or asleep, on SemSpace
}

// InFlight is how many bytes are published and not yet read.
func (s State) InFlight() uint64 {
	if s.Tail <= s.Head {
		return 0
	}
	return min(s.Tail-s.Head, s.Capacity)
}

// Observe returns the state of the formatted ring in seg. It reads head before
// tail: tail only grows, so the tail it returns is never below the head.
func Observe(seg []byte) (State, error) {
	v, err := newView(seg) // checks the ring's header
	if err != nil {
		return State{}, err
	}
	head := atomic.LoadUint64(v.head)
	return State{
		Capacity:         v.capacity,
		Head:             head,
		Tail:             atomic.LoadUint64(v.tail),
		ConsumerSleeping: atomic.LoadUint32(v.consumerWaiting) == 1,
		ProducerSleeping: atomic.LoadUint32(v.producerWaits) == 1,
	}, nil
}

// ObserveRecord returns the record header at stream position pos (a multiple of 8)
// as the bytes are now: if pos is not where a record starts, or the producer has
// overwritten it since, they are whatever lies there.
func ObserveRecord(seg []byte, pos uint64) (length, tag uint32, err error) {
	v, err := newView(seg)
	if err != nil {
		return 0, 0, err
	}
	h := v.data[pos&v.mask&^7:]
	return atomic.LoadUint32(u32(h, 0)), atomic.LoadUint32(u32(h, 4)), nil
}

// RecordSize is how many bytes of the stream a message of length bytes takes: the
// 8-byte record header, the payload, padding to a multiple of 8.
func RecordSize(length int) uint64 { return recordSize(length) }
