//go:build linux

package fastring

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/learn-sysv/shm-course/06-sync/header"
)

// KindVersion is the version of this layout, stored in the common header.
const KindVersion = 1

// Offsets of the fast ring's own header, after the 64-byte common header (see the
// package comment).
const (
	offCapacity     = header.Size // 64: line 1, written once by the creator
	offTail         = 128         // line 2, written only by the producer
	offConsumerWait = 192         // line 3, the consumer's "going to sleep" flag
	offHead         = 256         // line 4, written only by the consumer
	offProducerWait = 320         // line 5, the producer's "going to sleep" flag

	// DataOffset is where the data area starts.
	DataOffset = 384

	// MinCapacity is the smallest data area: room for a few small records.
	MinCapacity = 64
	// MaxCapacity keeps the data area well inside what a uint32 length can describe.
	MaxCapacity = 1 << 30
)

// The two semaphores of the set, both starting at 0.
const (
	SemData  = 0 // the consumer sleeps here; the producer posts after publishing
	SemSpace = 1 // the producer sleeps here; the consumer posts after freeing space
)

// Record header.
const (
	recordHeader = 8
	TagMessage   = 1
	TagEnd       = 2
)

// Capacity returns the data-area size for a request of at least n bytes: the next
// power of two, and at least MinCapacity. A power of two turns "position modulo
// capacity" into one AND instead of a division. A request above MaxCapacity gets
// MaxCapacity here, and Format refuses it.
func Capacity(n int) int {
	c := MinCapacity
	for c < n && c < MaxCapacity {
		c <<= 1
	}
	return c
}

// Layout returns the segment size for a data area of Capacity(capacity) bytes and
// the initial values of the semaphore set: both 0, nobody is asleep.
func Layout(capacity int) (segSize int, semValues []int) {
	return DataOffset + Capacity(capacity), []int{0, 0}
}

// Format writes the ring's header into a fresh, zero-filled segment: only the
// capacity, since indices and flags start at 0.
func Format(seg []byte, capacity int) error {
	if capacity > MaxCapacity {
		return fmt.Errorf("fastring: a data area of %d bytes: at most %d (1 GiB)", capacity, MaxCapacity)
	}
	c := Capacity(capacity)
	if len(seg) < DataOffset+c {
		return fmt.Errorf("fastring: segment of %d bytes is too small for a %d-byte ring (%d)", len(seg), c, DataOffset+c)
	}
	atomic.StoreUint64(u64(seg, offCapacity), uint64(c))
	return nil
}

// Describe returns the ring's shape in words.
func Describe(seg []byte) string {
	return fmt.Sprintf("a byte stream of %d bytes from offset %d; tail at %d, head at %d, sleep flags at %d and %d, each on its own 64-byte cache line",
		atomic.LoadUint64(u64(seg, offCapacity)), DataOffset, offTail, offHead, offConsumerWait, offProducerWait)
}

// view is what both ends share: the segment's fields as pointers into the shared
// bytes. The segment starts at a page boundary (shmat), so every field is aligned
// as atomic instructions require.
type view struct {
	data     []byte // the data area
	capacity uint64
	mask     uint64 // capacity-1: position & mask is the offset in data

	tail, head                     *uint64
	consumerWaiting, producerWaits *uint32
}

func newView(seg []byte) (view, error) {
	if len(seg) < DataOffset+MinCapacity {
		return view{}, fmt.Errorf("fastring: segment of %d bytes is too small for a ring", len(seg))
	}
	c := atomic.LoadUint64(u64(seg, offCapacity))
	if c < MinCapacity || c > MaxCapacity || c&(c-1) != 0 || DataOffset+c > uint64(len(seg)) {
		return view{}, fmt.Errorf("fastring: inconsistent ring header: capacity %d in a %d-byte segment", c, len(seg))
	}
	return view{
		data:            seg[DataOffset : DataOffset+c],
		capacity:        c,
		mask:            c - 1,
		tail:            u64(seg, offTail),
		head:            u64(seg, offHead),
		consumerWaiting: u32(seg, offConsumerWait),
		producerWaits:   u32(seg, offProducerWait),
	}, nil
}

func u64(seg []byte, off int) *uint64 { return (*uint64)(unsafe.Pointer(&seg[off])) }
func u32(seg []byte, off int) *uint32 { return (*uint32)(unsafe.Pointer(&seg[off])) }

// recordSize is the bytes a record with an n-byte payload takes: header, payload,
// padding to a multiple of 8.
func recordSize(n int) uint64 { return recordHeader + (uint64(n)+7)&^7 }

// copyIn copies b into the data area at stream position pos, wrapping at the end.
func (v *view) copyIn(pos uint64, b []byte) {
	n := copy(v.data[pos&v.mask:], b)
	copy(v.data, b[n:])
}

// copyOut copies len(b) bytes from stream position pos into b, wrapping at the end.
func (v *view) copyOut(b []byte, pos uint64) {
	n := copy(b, v.data[pos&v.mask:])
	copy(b[n:], v.data)
}
