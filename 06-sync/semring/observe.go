//go:build linux

package semring

import (
	"sync/atomic"

	"github.com/learn-sysv/shm-course/06-sync/header"
)

// State is the ring's header as a process that only watches sees it at one moment:
// the monitor of 06-sync, which attaches the segment read-only (SHM_RDONLY). Observe
// and ObserveSlot only load, never store, so they work through such an attachment.
type State struct {
	Slots    int    // number of slots
	SlotSize int    // payload bytes per slot
	Done     bool   // the consumer has taken the end-of-stream marker
	Sent     uint64 // slots the producer has filled so far
	Received uint64 // slots the consumer has emptied so far
}

// Full is how many slots hold data the consumer has not taken yet.
func (s State) Full() int {
	if s.Sent <= s.Received {
		return 0
	}
	return int(min(s.Sent-s.Received, uint64(s.Slots)))
}

// Observe returns the state of the formatted ring in seg. It reads received before
// sent: sent only grows, so the sent it returns is never below the received.
func Observe(seg []byte) (State, error) {
	r, err := attach(seg, nil, header.Consumer) // checks the ring's header
	if err != nil {
		return State{}, err
	}
	received := atomic.LoadUint64(r.u64(offReceived))
	return State{
		Slots:    int(r.slots),
		SlotSize: r.slotSize,
		Done:     atomic.LoadUint32(r.u32(offDone)) == 1,
		Received: received,
		Sent:     atomic.LoadUint64(r.u64(offSent)),
	}, nil
}

// ObserveSlot returns the length and flags of the n-th slot of the stream (slot n
// mod slots), as they are now: the producer may be filling it.
func ObserveSlot(seg []byte, n uint64) (length, flags uint32, err error) {
	r, err := attach(seg, nil, header.Consumer)
	if err != nil {
		return 0, 0, err
	}
	slot := r.slot(n)
	return get32(slot, 0), get32(slot, 4), nil
}
