//go:build linux

// Package appendtrap keeps a log of text lines in a shared memory segment: one
// process appends, others read.
//
// This is the reference solution of exercises/03-shmat/appendtrap.
package appendtrap

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"unsafe"
)

// The segment's layout:
//
//	offset 0  used   uint32: how many bytes of lines follow (read and written with sync/atomic)
//	offset 4  lines  one after another, each ending with '\n'
//
// HeaderSize is where the lines start.
const HeaderSize = 4

var (
	// ErrFull: the line (and its newline) does not fit in what is left of the log.
	ErrFull = errors.New("the log is full")
	// ErrNewline: a line may not contain a newline; the log uses it to separate lines.
	ErrNewline = errors.New("a line may not contain a newline")
	// ErrCorrupt: the header says more bytes than the segment holds.
	ErrCorrupt = errors.New("the log's header says more bytes than the segment holds")
)

// Append adds line and a newline at the end of the log in seg, an attached segment
// that other processes read. A line that does not fit is refused with an error that
// wraps ErrFull, and the segment is left as it was.
func Append(seg []byte, line string) error {
	if strings.Contains(line, "\n") {
		return ErrNewline
	}
	used, err := Used(seg)
	if err != nil {
		return err
	}
	// Check the room first, then copy into the segment itself. append would write
	// into the segment only while the slice had spare capacity, and move to the Go
	// heap, without a word, as soon as it had not: the line would be lost to every
	// other process, and the header would claim bytes the segment does not hold.
	free := len(seg) - HeaderSize - used
	if need := len(line) + 1; need > free {
		return fmt.Errorf("%d bytes, %d free: %w", need, free, ErrFull)
	}
	end := HeaderSize + used
	end += copy(seg[end:], line)
	seg[end] = '\n'
	// The new length is stored last, with an atomic store: a reader that loads it
	// atomically also sees the bytes written before it.
	atomic.StoreUint32(usedWord(seg), uint32(end+1-HeaderSize))
	return nil
}

// Used returns how many bytes of lines the log in seg holds. The header comes from
// another process: it is checked before anyone slices with it.
func Used(seg []byte) (int, error) {
	if len(seg) < HeaderSize {
		return 0, ErrCorrupt
	}
	used := uint64(atomic.LoadUint32(usedWord(seg)))
	if used > uint64(len(seg)-HeaderSize) {
		return 0, ErrCorrupt
	}
	return int(used), nil
}

// Lines returns a copy of the lines in the log, without their newlines.
func Lines(seg []byte) ([]string, error) {
	used, err := Used(seg)
	if err != nil {
		return nil, err
	}
	text := string(seg[HeaderSize : HeaderSize+used]) // string() copies
	if text == "" {
		return nil, nil
	}
	return strings.Split(strings.TrimSuffix(text, "\n"), "\n"), nil
}

// usedWord is the header as a *uint32, for sync/atomic. The segment starts on a
// page boundary, so offset 0 is aligned as a 32-bit atomic needs.
func usedWord(seg []byte) *uint32 { return (*uint32)(unsafe.Pointer(&seg[0])) }
