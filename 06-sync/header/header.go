//go:build linux

// Package header is the part of the 06-sync segment layout that every transport
// shares: the first 64 bytes of the segment.
//
// Whatever moves the messages (the textbook semaphore ring in package semring, or a
// faster transport), the program that creates, opens, checks and removes the segment
// only needs these fields, so it can detect a stale segment left by a crash and a dead
// peer without knowing how the rest of the segment is laid out.
//
// Every field is an integer at a fixed offset, with no Go pointers, in the byte
// order of the machine both processes run on (they share its memory, and atomic
// instructions read and write native integers): little-endian on x86-64 and arm64.
// A C program can follow them with the offsets below.
//
//	offset size field
//	     0    4 magic          the bytes "SYNC" (0x434e5953 read as a uint32 on a little-endian machine), written LAST by the creator
//	     4    4 version        of this common header: 1
//	     8    4 kind           which transport lays out the rest: 1 semring, 2 fast
//	    12    4 kind version   version of that transport's layout
//	    16    4 creator pid    the process that created and formatted the segment
//	    20    4 producer pid   0 until the producer has attached
//	    24    4 consumer pid   0 until the consumer has attached
//	    28    4 max message    largest message the producer will send, stored by the producer
//	                           right AFTER its claim of offset 20 succeeded (a refused producer
//	                           writes nothing); 0 until then. 06-sync: max(-size, 28), since its
//	                           28-byte trailer is a message too
//	    32    8 segment size   bytes, as asked of shmget (an opener checks it against shm_segsz)
//	    40   24 reserved       zero
//	    64      the transport's own header and data
//
// The creator fills in everything, then stores the magic with an atomic store: a
// process that reads the magic with an atomic load and finds "SYNC" also sees every
// field written before it. Until then the segment is "being initialised". This is the
// segment's version of the semaphore set's sem_otime handshake.
//
// The pid fields are read and written with 32-bit atomic operations, because the
// other process reads them while this one writes them.
package header

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Offsets of the common fields, in bytes from the start of the segment.
const (
	OffMagic       = 0
	OffVersion     = 4
	OffKind        = 8
	OffKindVersion = 12
	OffCreatorPid  = 16
	OffProducerPid = 20
	OffConsumerPid = 24
	OffMaxMessage  = 28
	OffSegSize     = 32
	Size           = 64 // the transport's part starts here
)

// Values of the common fields.
const (
	Magic   = 0x434e5953 // the bytes 'S' 'Y' 'N' 'C' read as a little-endian uint32
	Version = 1
)

// Transport kinds: which layout follows the common header.
const (
	KindSemring = 1 // package semring: slots, one semaphore operation per slot on each side
	KindFast    = 2 // package fastring: a byte stream that sleeps on a semaphore only when it must
)

// Role is which side of the stream a process is.
type Role int

const (
	Producer Role = iota
	Consumer
)

func (r Role) String() string {
	if r == Producer {
		return "producer"
	}
	return "consumer"
}

// Peer is the other role.
func (r Role) Peer() Role { return 1 - r }

// Header is a view of the first 64 bytes of a segment.
type Header struct{ b []byte }

// Of returns the header at the start of seg, which must be at least Size bytes
// and 8-byte aligned (shmat returns page-aligned addresses).
func Of(seg []byte) Header {
	if len(seg) < Size {
		panic(fmt.Sprintf("header.Of: segment of %d bytes is shorter than the %d-byte header", len(seg), Size))
	}
	return Header{b: seg[:Size:Size]}
}

func (h Header) u32(off int) *uint32 { return (*uint32)(unsafe.Pointer(&h.b[off])) }

// Format writes every field except the magic, for a fresh zero-filled segment.
func (h Header) Format(kind, kindVersion uint32, segSize int) {
	atomic.StoreUint32(h.u32(OffVersion), Version)
	atomic.StoreUint32(h.u32(OffKind), kind)
	atomic.StoreUint32(h.u32(OffKindVersion), kindVersion)
	atomic.StoreUint32(h.u32(OffCreatorPid), uint32(os.Getpid()))
	*(*uint64)(unsafe.Pointer(&h.b[OffSegSize])) = uint64(segSize)
}

// Publish stores the magic, last: from now on openers may use the segment.
func (h Header) Publish() { atomic.StoreUint32(h.u32(OffMagic), Magic) }

// Published reports whether the creator has stored the magic.
func (h Header) Published() bool { return atomic.LoadUint32(h.u32(OffMagic)) == Magic }

// Fields read with atomic loads.
func (h Header) MagicValue() uint32  { return atomic.LoadUint32(h.u32(OffMagic)) }
func (h Header) Version() uint32     { return atomic.LoadUint32(h.u32(OffVersion)) }
func (h Header) Kind() uint32        { return atomic.LoadUint32(h.u32(OffKind)) }
func (h Header) KindVersion() uint32 { return atomic.LoadUint32(h.u32(OffKindVersion)) }
func (h Header) CreatorPid() int     { return int(atomic.LoadUint32(h.u32(OffCreatorPid))) }
func (h Header) MaxMessage() int     { return int(atomic.LoadUint32(h.u32(OffMaxMessage))) }
func (h Header) SegSize() uint64     { return *(*uint64)(unsafe.Pointer(&h.b[OffSegSize])) }

// SetMaxMessage records the largest message the producer will send. Only the
// producer calls it, and only once its Claim has succeeded: a producer that is
// refused must not overwrite the running producer's value. So the field is 0 for a
// moment after the producer's pid appears, and a consumer waits for it to be non-zero.
func (h Header) SetMaxMessage(n int) { atomic.StoreUint32(h.u32(OffMaxMessage), uint32(n)) }

func pidOffset(r Role) int {
	if r == Producer {
		return OffProducerPid
	}
	return OffConsumerPid
}

// Pid returns the pid recorded for role r, 0 if none.
func (h Header) Pid(r Role) int { return int(atomic.LoadUint32(h.u32(pidOffset(r)))) }

// Claim records this process as role r. It fails if another process holds the role
// and is still alive; a dead holder's pid is replaced. A refused claim writes
// nothing.
func (h Header) Claim(r Role) error {
	_, err := h.ClaimOver(r)
	return err
}

// ClaimOver is Claim, and also returns what the field held when the
// compare-and-swap succeeded: 0, or the pid of a dead process it replaced.
func (h Header) ClaimOver(r Role) (replaced int, err error) {
	p := h.u32(pidOffset(r))
	for {
		old := atomic.LoadUint32(p)
		if old != 0 && Alive(int(old)) {
			return 0, fmt.Errorf("the %v role is taken by pid %d, which is running; start only one %v", r, old, r)
		}
		if atomic.CompareAndSwapUint32(p, old, uint32(os.Getpid())) {
			return int(old), nil
		}
		// Someone changed the field between the load and the swap: decide again.
	}
}

// KindName names a transport kind.
func KindName(kind uint32) string {
	switch kind {
	case KindSemring:
		return "semring"
	case KindFast:
		return "fast"
	}
	return fmt.Sprintf("unknown kind %d", kind)
}

// ErrNotOurs means the segment does not start with this course's header: it belongs
// to some other program, or to an incompatible version of this one.
var ErrNotOurs = errors.New("the segment does not carry this lesson's header")

// Check verifies magic and version, that the segment uses the transport kind and
// layout version, and that the segment size the creator recorded is segSize, the
// size of the segment as the kernel has it (shm_segsz, the length of the slice
// shmat returned).
func (h Header) Check(kind, kindVersion uint32, segSize int) error {
	if m := h.MagicValue(); m != Magic {
		return fmt.Errorf("%w: magic %#08x, want %#08x (\"SYNC\")", ErrNotOurs, m, Magic)
	}
	if v := h.Version(); v != Version {
		return fmt.Errorf("%w: header version %d, want %d", ErrNotOurs, v, Version)
	}
	if k := h.Kind(); k != kind {
		return fmt.Errorf("the segment uses the %s transport, not %s: start both sides with the same -transport", KindName(k), KindName(kind))
	}
	if v := h.KindVersion(); v != kindVersion {
		return fmt.Errorf("%w: %s layout version %d, want %d", ErrNotOurs, KindName(kind), v, kindVersion)
	}
	if s := h.SegSize(); s != uint64(segSize) {
		return fmt.Errorf("%w: its header says %d bytes, but the segment has %d (shm_segsz)", ErrNotOurs, s, segSize)
	}
	return nil
}

// PeerGoneError says that the process at the other end stopped: it exited or was
// killed while this one still needed it.
type PeerGoneError struct {
	Role Role // the peer's role
	Pid  int
	How  string // what showed it: "no such process", "the semaphore set was removed", ...
	Err  error  // the error that showed it, if any (sem.ErrRemoved matches a removed set)
}

func (e *PeerGoneError) Error() string {
	return fmt.Sprintf("the %v (pid %d) is gone (%s): it exited or was killed before the end of the stream", e.Role, e.Pid, e.How)
}

// Unwrap returns the error that showed it, so that errors.Is(err, sem.ErrRemoved)
// tells a removed set from a dead process.
func (e *PeerGoneError) Unwrap() error { return e.Err }

// PeerGone returns a *PeerGoneError if the process recorded as role peer has died,
// and nil while it runs (or if no process has claimed the role yet).
func (h Header) PeerGone(peer Role) error {
	pid := h.Pid(peer)
	if pid == 0 || Alive(pid) {
		return nil
	}
	return &PeerGoneError{Role: peer, Pid: pid, How: "no such process"}
}

// Alive reports whether process pid exists and is not a zombie. kill(pid, 0) checks
// existence without sending anything (kill(2)); a zombie (dead, not yet reaped by its
// parent) still exists for kill, so /proc/PID/stat's state letter is checked too.
// EPERM means the process exists but belongs to someone else: alive.
func Alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := unix.Kill(pid, 0); err != nil && err != unix.EPERM {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The format is "pid (comm) S ...": the state follows the last ')'.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}
