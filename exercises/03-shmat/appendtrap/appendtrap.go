//go:build linux

// Package appendtrap keeps a log of text lines in a shared memory segment: one
// process appends, others read. Append below has a bug that hides while the log has
// room (README.md). Find it and fix it; Used and Lines are correct.
package appendtrap

import (
	"errors"
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
	// TODO: this works in one process, and while the log has room. Then it loses
	// lines without a word: read README.md, run the tests, and fix it.
	log := seg[HeaderSize : HeaderSize+used]
	log = append(log, line...)
	log = append(log, '\n')
	// The new length is stored last, with an atomic store: a reader that loads it
	// atomically also sees the bytes written before it.
	atomic.StoreUint32(usedWord(seg), uint32(len(log)))
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
