//go:build linux

package main

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"
)

// What may live in shared memory, from Go.
//
// The segment is bytes that several processes map, each at its own address. So:
//
//   - No Go pointers: no pointer, string, slice, map, interface, channel or func
//     value, and nothing that holds one (atomic.Value holds an interface). A
//     pointer means nothing in another process, and the garbage collector does
//     not look inside the segment, so it could free what such a pointer points to.
//   - No sync.Mutex or sync.WaitGroup: they hold no pointers, but waiting and waking
//     go through the Go runtime of one process, which never wakes a waiter in
//     another. Use a System V semaphore (lesson 06) or atomics.
//   - Fixed-size, fixed-width fields: uint32, int64, [16]byte; never int or
//     uintptr, whose size depends on the machine and compiler. Check the layout with
//     unsafe.Sizeof and unsafe.Offsetof (the tests do), or encode the bytes with
//     encoding/binary.
//   - A field used with sync/atomic is 8 bytes wide and at an offset that is a
//     multiple of 8 (the segment itself starts on a page boundary).
//   - A magic number and a version first, so that a process can tell whether the
//     segment holds this layout at all, and which edition of it.
//   - Offsets from the start of the segment, never addresses: the same bytes sit at a
//     different address in each process.

// header is the start of the segment: what the two processes of this lesson agree on.
// Every field is a fixed-width number; the struct holds no Go pointer.
type header struct {
	Magic    uint32 // headerMagic: "this segment holds our layout"
	Version  uint32 // headerVersion: which edition of the layout
	Writes   uint64 // how many messages were written; sync/atomic only (offset 8)
	MsgOff   uint32 // where the parent's message starts, from the start of the segment
	MsgLen   uint32
	ReplyOff uint32 // where the child writes its reply
	ReplyLen uint32
}

const (
	headerMagic   = 0x53484d31 // "SHM1" read as a number; in memory on x86-64 (little-endian) the bytes are "1MHS"
	headerVersion = 1

	msgOff   = 64  // the parent's message: 64 bytes after the start
	replyOff = 128 // the child's reply
	maxText  = 64  // room for each text
)

// headerSize is 32 bytes; minSize is what the segment needs for the whole layout.
const (
	headerSize = unsafe.Sizeof(header{})
	minSize    = replyOff + maxText
)

// headerIn returns the header at the start of b, the attached segment. It refuses
// a segment too small for the layout and one not aligned for the atomic field (a
// segment from shmat is page-aligned, so that cannot happen here; a slice made
// some other way could be).
func headerIn(b []byte) (*header, error) {
	if len(b) < minSize {
		return nil, fmt.Errorf("the segment has %d bytes; this layout needs %d", len(b), minSize)
	}
	if uintptr(unsafe.Pointer(&b[0]))%8 != 0 {
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
// The magic goes last, so a reader that sees it sees the rest too.
func writeMessage(b []byte, msg string) (*header, error) {
	h, err := headerIn(b)
	if err != nil {
		return nil, err
	}
	n := copy(b[msgOff:msgOff+maxText], msg)
	h.Version = headerVersion
	h.MsgOff, h.MsgLen = msgOff, uint32(n)
	h.ReplyOff, h.ReplyLen = replyOff, 0
	atomic.AddUint64(&h.Writes, 1)
	atomic.StoreUint32(&h.Magic, headerMagic)
	return h, nil
}

// message returns the parent's message, found through the offsets in the header.
func message(b []byte, h *header) string { return text(b, h.MsgOff, h.MsgLen) }

// reply returns the child's reply.
func reply(b []byte, h *header) string { return text(b, h.ReplyOff, h.ReplyLen) }

// writeReply stores the child's reply at the offset the header names, after
// checking that offset: the other process wrote it.
func writeReply(b []byte, h *header, s string) error {
	if end := uint64(h.ReplyOff) + maxText; end > uint64(len(b)) {
		return fmt.Errorf("the header's reply offset %d leaves no room for %d bytes in a %d-byte segment", h.ReplyOff, maxText, len(b))
	}
	n := copy(b[h.ReplyOff:h.ReplyOff+maxText], s)
	atomic.StoreUint32(&h.ReplyLen, uint32(n))
	atomic.AddUint64(&h.Writes, 1)
	return nil
}

// text reads n bytes at off, refusing offsets outside the segment: another process
// wrote them, so they are input to check, not facts to trust.
func text(b []byte, off, n uint32) string {
	end := uint64(off) + uint64(n)
	if end > uint64(len(b)) || n > maxText {
		return fmt.Sprintf("(bad offset %d, length %d)", off, n)
	}
	return string(b[off:end])
}
