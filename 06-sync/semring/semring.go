//go:build linux

// Package semring is the textbook bounded buffer: a ring of fixed-size slots in a
// System V shared memory segment, with two counting semaphores, one producer process
// and one consumer process.
//
//	semaphore 0, EMPTY: free slots, starts at the number of slots
//	semaphore 1, FULL:  filled slots, starts at 0
//
//	producer, per slot: wait(EMPTY); fill slot[sent % slots]; sent++; post(FULL)
//	consumer, per slot: wait(FULL);  read slot[received % slots]; received++; post(EMPTY)
//
// With one producer and one consumer no mutex is needed: only the producer writes a
// free slot and only the consumer reads a full one, and the semaphores guarantee the
// two never touch the same slot at the same time. What the producer wrote before
// post(FULL) is visible to the consumer after its wait(FULL) returns, because the
// kernel orders the two semops on the same semaphore: the post updates the value
// under the semaphore's lock and releases it (or hands the result to a sleeping
// waiter with a store-release), and the wait takes the lock (or reads its result
// with a load-acquire) before it returns. Release on post, acquire on wait: the
// pairing a mutex gives. Entering the kernel is not in itself a barrier on every
// CPU (arm64's SVC instruction is not one); the semaphore's own synchronisation is.
//
// No SEM_UNDO here: these semaphores count slots, they are not locks. Undoing a dead
// producer's posts would make filled slots vanish from FULL.
//
// The segment layout after the 64-byte common header (package header) is:
//
//	offset size field
//	    64    4 slots        number of slots
//	    68    4 slot size    payload bytes per slot
//	    72    4 stride       bytes from one slot to the next: 8 + slot size, rounded up to 8
//	    76    4 done         the consumer stores 1 when it takes the end-of-stream marker
//	    80    8 sent         slots the producer has filled (written by the producer only)
//	    88    8 received     slots the consumer has emptied (written by the consumer only)
//	    96   32 reserved     zero
//	   128      slot 0, slot 1, ... each: length uint32, flags uint32, payload
//
// Every field is an integer in the machine's byte order (package header). sent and
// received count slots, the end-of-stream slot included; neither side reads the
// other's (each counts for itself): they are there for a process that watches. A
// message longer than a slot is split over consecutive slots; the producer writes
// every slot but the last of a message with flag More (2) and a full slot of
// payload. The consumer accepts more: it copies length bytes (0 to slot size) from
// each slot while More is set, so a More slot that is not full, or an empty last
// slot, is read as it is. The end-of-stream marker is a slot with flag End (1) and
// length 0; the consumer tests End first and ignores other flag bits. The consumer may free the slots of a
// message one by one (post EMPTY +1 each) or all at once when it has read the last
// (+k in one semop, which this package does, so that a buffer too small leaves the
// message whole); the protocol is the same.
package semring

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/learn-sysv/shm-course/06-sync/header"
	"github.com/learn-sysv/shm-course/internal/sem"
)

// Layout constants (see the package comment).
const (
	KindVersion = 1

	offSlots    = header.Size + 0
	offSlotSize = header.Size + 4
	offStride   = header.Size + 8
	offDone     = header.Size + 12
	offSent     = header.Size + 16
	offReceived = header.Size + 24
	SlotsOffset = 128 // where slot 0 starts
	slotHeader  = 8   // length + flags

	// Slot flags.
	End  = 1 // end of stream
	More = 2 // the message continues in the next slot

	// Semaphore numbers.
	Empty = 0
	Full  = 1
)

// Poll is how long a blocked side waits on a semaphore before it checks that the
// peer is still alive. A dead peer is noticed within about this long.
var Poll = 250 * time.Millisecond

// afterDone, if set, runs between the consumer's store of done and its post of
// EMPTY: a test removes the set there, as a producer that saw done may.
var afterDone func()

// Stride is the distance between slots for a payload of slotSize bytes.
func Stride(slotSize int) int { return (slotHeader + slotSize + 7) &^ 7 }

// Layout returns the segment size for slots slots of slotSize bytes, and the
// initial semaphore values (EMPTY = slots, FULL = 0).
func Layout(slots, slotSize int) (segSize int, semValues []int) {
	return SlotsOffset + slots*Stride(slotSize), []int{slots, 0}
}

// Format writes the ring's header into a fresh zero-filled segment.
func Format(seg []byte, slots, slotSize int) error {
	if slots < 1 || slots > 32767 {
		return fmt.Errorf("semring: %d slots: need 1 to 32767 (a semaphore's maximum value, SEMVMX)", slots)
	}
	if slotSize < 1 {
		return fmt.Errorf("semring: slot size %d: need at least 1 byte", slotSize)
	}
	if size, _ := Layout(slots, slotSize); len(seg) < size {
		return fmt.Errorf("semring: segment of %d bytes is too small for %d slots of %d bytes (%d)", len(seg), slots, slotSize, size)
	}
	put32(seg, offSlots, uint32(slots))
	put32(seg, offSlotSize, uint32(slotSize))
	put32(seg, offStride, uint32(Stride(slotSize)))
	return nil
}

// Describe returns the ring's shape in words.
func Describe(seg []byte) string {
	return fmt.Sprintf("%d slots of %d bytes (stride %d) from offset %d",
		get32(seg, offSlots), get32(seg, offSlotSize), get32(seg, offStride), SlotsOffset)
}

// Ring is one side's view of a formatted segment.
type Ring struct {
	seg      []byte
	set      *sem.Set
	hdr      header.Header
	peer     header.Role
	slots    uint64
	slotSize int
	stride   int
	count    uint64 // slots this side has filled (producer) or emptied (consumer)
}

func attach(seg []byte, set *sem.Set, me header.Role) (*Ring, error) {
	slots, slotSize, stride := get32(seg, offSlots), int(get32(seg, offSlotSize)), int(get32(seg, offStride))
	if slots == 0 || stride != Stride(slotSize) || SlotsOffset+int(slots)*stride > len(seg) {
		return nil, fmt.Errorf("semring: inconsistent ring header (%d slots of %d bytes, stride %d, in %d bytes)", slots, slotSize, stride, len(seg))
	}
	r := &Ring{seg: seg, set: set, hdr: header.Of(seg), peer: me.Peer(),
		slots: uint64(slots), slotSize: slotSize, stride: stride}
	return r, nil
}

// NewSender returns the producer's end.
func NewSender(seg []byte, set *sem.Set) (*Sender, error) {
	r, err := attach(seg, set, header.Producer)
	if err != nil {
		return nil, err
	}
	r.count = atomic.LoadUint64(r.u64(offSent))
	return &Sender{r}, nil
}

// NewReceiver returns the consumer's end.
func NewReceiver(seg []byte, set *sem.Set) (*Receiver, error) {
	r, err := attach(seg, set, header.Consumer)
	if err != nil {
		return nil, err
	}
	r.count = atomic.LoadUint64(r.u64(offReceived))
	return &Receiver{r}, nil
}

// slot returns the slot for the count-th slot operation.
func (r *Ring) slot(count uint64) []byte {
	off := SlotsOffset + int(count%r.slots)*r.stride
	return r.seg[off : off+slotHeader+r.slotSize]
}

// wait takes n units of semaphore num. It waits in slices of Poll and between them
// checks that the peer is alive, so a peer killed with SIGKILL (which runs no
// cleanup) is noticed instead of waited for forever. finished, if not nil, says
// whether what the wait is for has already happened some other way (the
// producer's Close: the consumer has set done); then a timeout or a removed set is
// not an error.
func (r *Ring) wait(num int, n int16, finished func() bool) error {
	for {
		err := r.set.DoTimeout(Poll, sem.Op{Num: uint16(num), Delta: -n})
		switch {
		case err == nil:
			return nil
		case errors.Is(err, sem.ErrTimeout):
			// Liveness first, then the condition: a peer that is dead now has made
			// its last store already, so a condition still false after that stays
			// false. The other order could call a peer gone that finished its part
			// and exited between the two checks.
			gone := r.hdr.PeerGone(r.peer)
			if finished != nil && finished() {
				return nil
			}
			if gone != nil {
				return gone
			}
		case errors.Is(err, sem.ErrRemoved):
			if finished != nil && finished() {
				return nil // the peer finished, then removed the set: not an error
			}
			return r.removedError(err)
		default:
			return err
		}
	}
}

// removedError says that the set was removed while this side still needed it: a
// *header.PeerGoneError (the peer's cleanup removes the set when it stops) that
// also matches sem.ErrRemoved with errors.Is. err matches sem.ErrRemoved: EIDRM if
// the set went while this side waited, EINVAL if it was gone when it called (the
// same event a moment earlier; package sem reports both as removed).
func (r *Ring) removedError(err error) error {
	return &header.PeerGoneError{Role: r.peer, Pid: r.hdr.Pid(r.peer), How: "the semaphore set was removed under us", Err: err}
}

// post adds n to semaphore num.
func (r *Ring) post(num int, n int16) error {
	if err := r.set.Do(sem.Op{Num: uint16(num), Delta: n}); err != nil {
		if errors.Is(err, sem.ErrRemoved) {
			return r.removedError(err)
		}
		return err
	}
	return nil
}

// Sender is the producer's end of the ring.
type Sender struct{ r *Ring }

// Send copies msg into as many slots as it needs.
func (s *Sender) Send(msg []byte) error {
	r := s.r
	for {
		n := min(len(msg), r.slotSize)
		var flags uint32
		if n < len(msg) {
			flags = More
		}
		if err := s.put(msg[:n], flags); err != nil {
			return err
		}
		msg = msg[n:]
		if len(msg) == 0 {
			return nil
		}
	}
}

func (s *Sender) put(chunk []byte, flags uint32) error {
	r := s.r
	if err := r.wait(Empty, 1, nil); err != nil {
		return err
	}
	slot := r.slot(r.count)
	put32(slot, 0, uint32(len(chunk)))
	put32(slot, 4, flags)
	copy(slot[slotHeader:], chunk)
	r.count++
	atomic.StoreUint64(r.u64(offSent), r.count)
	return r.post(Full, 1)
}

// Close sends the end-of-stream marker and waits until the consumer has taken it:
// until every slot is empty again (EMPTY == slots), or the consumer has set done
// (it stores done, then posts EMPTY, and may remove the set as soon as it has).
func (s *Sender) Close() error {
	r := s.r
	if err := s.put(nil, End); err != nil {
		return err
	}
	// Take all the slots at once: this succeeds only when the consumer has emptied
	// every one, the marker included.
	return r.wait(Empty, int16(r.slots), func() bool { return atomic.LoadUint32(r.u32(offDone)) == 1 })
}

// Receiver is the consumer's end of the ring.
type Receiver struct{ r *Ring }

// Receive copies the next message into buf and returns its length, or io.EOF after
// the end-of-stream marker.
//
// The slots of a message are freed (one post of EMPTY for all of them) only once
// its last slot has been read, so that a buffer too small for the message leaves it
// whole in the ring: Receive gives the FULL units it took back and returns
// io.ErrShortBuffer, and the next Receive, with a larger buffer, gets the whole
// message. A message longer than the whole ring (slots × slot size bytes) cannot be
// held back like that, since the producer needs its first slots again to write the
// rest: the consumer frees them as the ring fills. If such a message then turns out
// not to fit the buffer, which can only happen with a buffer at least as large as
// the ring, it is read to its end and dropped, and the error says so.
func (c *Receiver) Receive(buf []byte) (int, error) {
	r := c.r
	n := 0         // bytes of the message copied into buf
	held := 0      // its slots taken (FULL) and not yet freed (EMPTY)
	freed := false // some of its slots were freed already: it can no longer be left whole
	dropped := -1  // bytes of a message too large for buf, once part of it was freed
	for {
		if err := r.wait(Full, 1, nil); err != nil {
			return 0, err
		}
		slot := r.slot(r.count + uint64(held))
		length, flags := int(get32(slot, 0)), get32(slot, 4)
		if length > r.slotSize {
			return 0, fmt.Errorf("semring: slot %d says %d bytes, more than the slot size %d: the segment is corrupt", (r.count+uint64(held))%r.slots, length, r.slotSize)
		}
		if flags&End != 0 {
			if held != 0 || n != 0 || dropped >= 0 {
				return 0, fmt.Errorf("semring: end-of-stream marker in the middle of a message: the segment is corrupt")
			}
			atomic.StoreUint32(r.u32(offDone), 1) // before the post: Close may return once it sees done
			if afterDone != nil {
				afterDone()
			}
			if err := c.free(1); err != nil && !errors.Is(err, sem.ErrRemoved) {
				return 0, err // a removed set: the producer saw done and finished; the stream is complete
			}
			return 0, io.EOF
		}
		held++
		switch {
		case dropped >= 0:
			dropped += length
		case n+length > len(buf) && !freed:
			// Nothing of the message is freed yet: give the slots back to FULL,
			// and the message stays whole for a larger buffer.
			if err := r.post(Full, int16(held)); err != nil {
				return 0, err
			}
			return 0, fmt.Errorf("semring: a message longer than the %d-byte buffer: %w", len(buf), io.ErrShortBuffer)
		case n+length > len(buf):
			dropped = n + length
		default:
			copy(buf[n:], slot[slotHeader:slotHeader+length])
			n += length
		}
		if flags&More == 0 || held == int(r.slots) {
			if err := c.free(held); err != nil {
				return 0, err
			}
			held, freed = 0, true
		}
		if flags&More == 0 {
			if dropped >= 0 {
				return 0, fmt.Errorf("semring: a %d-byte message does not fit the %d-byte buffer; it was longer than the ring, so its first slots had been freed before its length was known, and it was dropped: %w", dropped, len(buf), io.ErrShortBuffer)
			}
			return n, nil
		}
	}
}

// free gives k slots back to the producer: received += k, then one semop of +k on
// EMPTY.
func (c *Receiver) free(k int) error {
	r := c.r
	r.count += uint64(k)
	atomic.StoreUint64(r.u64(offReceived), r.count)
	return r.post(Empty, int16(k))
}

func (r *Ring) u32(off int) *uint32 { return (*uint32)(unsafe.Pointer(&r.seg[off])) }
func (r *Ring) u64(off int) *uint64 { return (*uint64)(unsafe.Pointer(&r.seg[off])) }

func put32(b []byte, off int, v uint32) { atomic.StoreUint32((*uint32)(unsafe.Pointer(&b[off])), v) }
func get32(b []byte, off int) uint32    { return atomic.LoadUint32((*uint32)(unsafe.Pointer(&b[off]))) }
