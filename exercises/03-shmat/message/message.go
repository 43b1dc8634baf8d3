//go:build linux

// Package message passes one length-prefixed message through a shared memory
// segment, from one process to another. Write Write and Read; README.md says what
// each must do.
package message

import "errors"

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
func Write(id int, msg []byte) error {
	return errors.New("TODO: implement Write (read README.md, then HINTS.md)")
}

// Read attaches segment id read-only, returns the message Write stored there, and
// detaches. The bytes returned are a copy that stays valid after the detach. A
// header that claims more bytes than the segment holds gives ErrCorrupt.
func Read(id int) ([]byte, error) {
	return nil, errors.New("TODO: implement Read (read README.md, then HINTS.md)")
}
