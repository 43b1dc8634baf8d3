//go:build linux

// Package message passes one length-prefixed message through a shared memory
// segment, from one process to another.
//
// This is the reference solution of exercises/03-shmat/message.
package message

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// The layout of the segment: a 4-byte little-endian length, then that many bytes.
//
//	offset 0            4                      4+length
//	       [ length u32 ][ message bytes ...... ][ unused ... ]
const HeaderSize = 4

var (
	// ErrTooLong: the message does not fit in the segment after the header.
	ErrTooLong = errors.New("the message does not fit in the segment")
	// ErrCorrupt: the length in the header is larger than the segment can hold.
	ErrCorrupt = errors.New("the length in the segment's header is larger than the segment")
)

// Write attaches segment id, stores msg in it with its length before it, and
// detaches. A message that does not fit is refused with ErrTooLong, leaving the
// segment unchanged.
func Write(id int, msg []byte) (err error) {
	b, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		return fmt.Errorf("shmat(%d, NULL, 0): %w", id, err)
	}
	defer detach(b, &err)

	// The slice is exactly the segment's size (shm_segsz), so len(b) is the room.
	if room := len(b) - HeaderSize; len(msg) > room {
		return fmt.Errorf("%d bytes, room for %d: %w", len(msg), room, ErrTooLong)
	}
	// Fixed-width fields only: a Go string or slice header would mean nothing to
	// the other process.
	binary.LittleEndian.PutUint32(b[:HeaderSize], uint32(len(msg)))
	copy(b[HeaderSize:], msg)
	return nil
}

// Read attaches segment id read-only, returns the message Write stored there, and
// detaches. The bytes returned are a copy that stays valid after the detach. A
// header that claims more bytes than the segment holds gives ErrCorrupt.
func Read(id int) (msg []byte, err error) {
	// SHM_RDONLY needs only read permission, and makes a stray write fault instead
	// of corrupting the message. See shmop(2).
	b, err := unix.SysvShmAttach(id, 0, unix.SHM_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("shmat(%d, NULL, SHM_RDONLY): %w", id, err)
	}
	defer detach(b, &err)

	if len(b) < HeaderSize {
		return nil, fmt.Errorf("segment of %d bytes has no room for the header: %w", len(b), ErrCorrupt)
	}
	// Check the length before slicing with it: it comes from another process.
	n := uint64(binary.LittleEndian.Uint32(b[:HeaderSize]))
	if room := uint64(len(b) - HeaderSize); n > room {
		return nil, fmt.Errorf("header says %d bytes, room for %d: %w", n, room, ErrCorrupt)
	}
	// Copy out before the deferred detach unmaps b.
	return append([]byte{}, b[HeaderSize:HeaderSize+n]...), nil
}

// detach detaches b and reports a failure through *err unless there already is one.
func detach(b []byte, err *error) {
	if derr := unix.SysvShmDetach(b); derr != nil && *err == nil {
		*err = fmt.Errorf("shmdt: %w", derr)
	}
}
