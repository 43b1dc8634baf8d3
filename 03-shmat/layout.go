//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"github.com/learn-sysv/shm-course/internal/shm"
)

// What may live in shared memory, from Go.
//
// The segment is bytes that several processes map, each at its own address. So:
//
//   - No Go pointers: no pointer, string, slice, map, interface, channel or func
//     value, and nothing that holds one (atomic.Value holds an interface). A
//     pointer means nothing in another process, and the garbage collector does
//     not look inside the segment, so it could free what such a pointer points to.
//     (Step 14 stores a string's pointer and shows what another process finds there.)
//   - No sync.Mutex or sync.WaitGroup: they hold no pointers, but waiting and waking
//     go through the Go runtime of one process, which never wakes a waiter in
//     another. Use a System V semaphore (lesson 06) or atomics.
//   - Fixed-size, fixed-width fields: uint32, int64, [16]byte; never int or
//     uintptr, whose size depends on the machine and compiler. Check the layout with
//     unsafe.Sizeof and unsafe.Offsetof (the tests do), or encode the bytes with
//     encoding/binary.
//   - A field used with sync/atomic at an offset that is a multiple of its size: 8
//     for the 64-bit functions (AddUint64, LoadUint64), 4 for the 32-bit ones
//     (StoreUint32). sync/atomic requires it, and the segment itself starts on a page
//     boundary, so an offset from its start is all that counts.
//   - A magic number and a version first, so that a process can tell whether the
//     segment holds this layout at all, and which edition of it.
//   - Offsets from the start of the segment, never addresses: the same bytes sit at a
//     different address in each process.

// header is the start of the segment: what the two processes of this lesson agree on.
// Every field is a fixed-width number; the struct holds no Go pointer.
type header struct {
	Magic    uint32 // headerMagic: "this segment holds our layout"; sync/atomic only
	Version  uint32 // headerVersion: which edition of the layout
	Writes   uint64 // how many messages were written; sync/atomic only (offset 8)
	MsgOff   uint32 // where the parent's message starts, from the start of the segment
	MsgLen   uint32
	ReplyOff uint32 // where the child writes its reply
	ReplyLen uint32 // sync/atomic only: the child stores it after the reply's bytes
}

const (
	headerMagic   = 0x53484d31 // "SHM1" read as a number; in memory on x86-64 (little-endian) the bytes are "1MHS"
	headerVersion = 1

	msgOff   = 64  // the parent's message: 64 bytes after the start
	replyOff = 128 // the child's reply
	maxText  = 64  // room for each text
	labOff   = 192 // 64 bytes the Go-trap steps (11 to 14) use for their experiments
)

// headerSize is 32 bytes; minSize is what the segment needs for the whole layout.
const (
	headerSize = unsafe.Sizeof(header{})
	minSize    = labOff + 64
)

// headerIn returns the header at the start of b, the attached segment. It refuses
// a segment too small for the layout and one not aligned for the atomic field (a
// segment from shmat is page-aligned, so that cannot happen here; a slice made
// some other way could be).
func headerIn(b []byte) (*header, error) {
	if len(b) < minSize {
		return nil, fmt.Errorf("the segment has %d bytes; this layout needs %d", len(b), minSize)
	}
	if shm.Addr(b)%8 != 0 {
		return nil, errors.New("the segment is not 8-byte aligned")
	}
	// A *header that points into the segment. The garbage collector ignores memory
	// it did not allocate, which is fine: nothing in header points anywhere.
	return (*header)(unsafe.Pointer(&b[0])), nil
}

// check says whether the header was written by this layout.
func (h *header) check() error {
	if m := atomic.LoadUint32(&h.Magic); m != headerMagic {
		return fmt.Errorf("magic is %#x, not %#x: this segment does not hold our layout", m, headerMagic)
	}
	if h.Version != headerVersion {
		return fmt.Errorf("layout version %d, this program knows %d", h.Version, headerVersion)
	}
	return nil
}

// writeMessage initialises the layout: the header, then the message at msgOff.
// The magic goes last, with sync/atomic, so a reader that sees it (with
// sync/atomic) sees the rest too.
func writeMessage(b []byte, msg string) (*header, error) {
	h, err := headerIn(b)
	if err != nil {
		return nil, err
	}
	n := copy(b[msgOff:msgOff+maxText], msg)
	h.Version = headerVersion
	h.MsgOff, h.MsgLen = msgOff, uint32(n)
	h.ReplyOff = replyOff
	atomic.StoreUint32(&h.ReplyLen, 0)
	atomic.AddUint64(&h.Writes, 1)
	atomic.StoreUint32(&h.Magic, headerMagic)
	return h, nil
}

// message returns the parent's message, found through the offsets in the header.
func message(b []byte, h *header) string {
	return text(b, atomic.LoadUint32(&h.MsgOff), atomic.LoadUint32(&h.MsgLen))
}

// reply returns the child's reply.
func reply(b []byte, h *header) string {
	return text(b, atomic.LoadUint32(&h.ReplyOff), atomic.LoadUint32(&h.ReplyLen))
}

// writeReply stores the child's reply at the offset the header names. Another
// process wrote that offset and may change it at any moment, so it is read once,
// into a local, and that one value is both checked and used: reading the field a
// second time to use it could give a value the check never saw.
func writeReply(b []byte, h *header, s string) error {
	off := uint64(atomic.LoadUint32(&h.ReplyOff))
	if off+maxText > uint64(len(b)) {
		return fmt.Errorf("the header's reply offset %d leaves no room for %d bytes in a %d-byte segment", off, maxText, len(b))
	}
	n := copy(b[off:off+maxText], s)
	atomic.StoreUint32(&h.ReplyLen, uint32(n))
	atomic.AddUint64(&h.Writes, 1)
	return nil
}

// text reads n bytes at off, refusing offsets outside the segment: another process
// wrote them, so they are input to check, not facts to trust. The sum is taken in 64
// bits, where two uint32s cannot overflow.
func text(b []byte, off, n uint32) string {
	end := uint64(off) + uint64(n)
	if end > uint64(len(b)) || n > maxText {
		return fmt.Sprintf("(bad offset %d, length %d)", off, n)
	}
	return string(b[off:end])
}

// layOut is step 4: the lesson's header and message, written into the segment.
func (t *tour) layOut() error {
	l := t.l
	l.Step("Lay out the segment: a pointer-free header, offsets instead of addresses")
	msg := fmt.Sprintf("hello from pid %d", os.Getpid())
	l.Call("writeMessage(first, %q)    (layout.go)", msg)
	hp, err := writeMessage(t.first, msg)
	if err != nil {
		return err
	}
	var h header
	l.Result("header at offset 0, %d bytes: Magic@%d Version@%d Writes@%d MsgOff@%d MsgLen@%d ReplyOff@%d ReplyLen@%d",
		headerSize, unsafe.Offsetof(h.Magic), unsafe.Offsetof(h.Version), unsafe.Offsetof(h.Writes),
		unsafe.Offsetof(h.MsgOff), unsafe.Offsetof(h.MsgLen), unsafe.Offsetof(h.ReplyOff), unsafe.Offsetof(h.ReplyLen))
	l.Result("magic %#x, version %d; message %q at offset %d; reply to go at offset %d",
		hp.Magic, hp.Version, message(t.first, hp), hp.MsgOff, hp.ReplyOff)
	l.Say("Only fixed-width numbers: no pointer, string, slice, map or interface (they mean")
	l.Say("nothing in another process, and the garbage collector does not look in here), and")
	l.Say("no sync.Mutex (its waiters sleep in one process's Go runtime). Writes, used with")
	l.Say("sync/atomic's 64-bit functions, is 8 bytes at offset 8, a multiple of 8. The message")
	l.Say("is found by its offset: the other process maps the segment at its own address, so an")
	l.Say("address stored here would be wrong there. The magic is stored last, with sync/atomic:")
	l.Say("a reader that loads it (with sync/atomic) and finds it set sees everything written before.")
	l.Look("od -A d -c -N %d /proc/%d/map_files/%s    (as root: the segment's bytes from outside)",
		minSize, os.Getpid(), mapsRange(shm.Addr(t.first)))
	return nil
}
