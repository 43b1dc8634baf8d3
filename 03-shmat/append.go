//go:build linux

package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// appendOff is where step 11 writes its text: the last 32 bytes of the lab.
const appendOff = labOff + 32

// appendTrap is step 11. The attached slice's capacity is its length, so append
// cannot grow it in place: it copies everything to a new array on the Go heap, and
// writes through the result never reach the segment. A subslice that does have
// spare capacity is worse: append writes into the segment, over what follows.
// A second process (runReader) reads the segment's bytes to show what it sees.
func (t *tour) appendTrap() error {
	l := t.l
	l.Step("Go trap: append to the attached slice")
	l.Call("%s %s %d    (a second process that reads the segment's bytes when asked)", name, roleReader, t.id)
	p, err := startRole(l, nil, roleReader, strconv.Itoa(t.id))
	if err != nil {
		return err
	}
	if _, err := p.Await("READY"); err != nil {
		return err
	}
	first := t.first
	before := "before append"
	l.Call("copy(first[%d:], %q)", appendOff, before)
	copy(first[appendOff:appendOff+32], before)

	l.Call("grown := append(first, '!')    (len(first) %d, cap(first) %d)", len(first), cap(first))
	grown := append(first, '!')
	l.Result("grown is at %#x, not %#x: append found no room and copied all %d bytes to a new array", shm.Addr(grown), shm.Addr(first), len(first))
	l.Result("/proc/self/maps: %s", mapsLine(shm.Addr(grown)))
	l.Say("That is an anonymous private mapping (rw-p), the Go heap: not the segment (rw-s).")
	l.Look("grep -e SYSV -e rw-p /proc/%d/maps    (the segment, and the anonymous mappings the Go heap lives in)", os.Getpid())
	after := "after append!"
	l.Call("copy(grown[%d:], %q)", appendOff, after)
	copy(grown[appendOff:], after)
	l.Result("first[%d:%d] still reads %q", appendOff, appendOff+len(before), first[appendOff:appendOff+len(before)])
	seen, err := readThrough(p, appendOff, len(before))
	if err != nil {
		return err
	}
	l.Result("the other process reads %q: the write went to this process's heap", seen)

	l.Call("msg := first[%d:%d]    (len 6, cap %d: the rest of the segment)", appendOff, appendOff+6, cap(first[appendOff:appendOff+6]))
	msg := first[appendOff : appendOff+6]
	l.Call("msg = append(msg, \" and more\"...)")
	msg = append(msg, " and more"...)
	l.Result("msg is at %#x, still in the segment: append had room and wrote there", shm.Addr(msg))
	seen, err = readThrough(p, appendOff, len(msg))
	if err != nil {
		return err
	}
	l.Result("the other process reads %q: the append overwrote the bytes after msg", seen)
	l.Say("Either way, append is the wrong tool for a segment: it moves your data out of it")
	l.Say("without a word, or writes past the field into whatever follows. Write with copy into")
	l.Say("fixed fields at known offsets (as writeMessage does), and give a subslice no spare")
	l.Say("capacity, first[off:end:end], so that a stray append copies instead of trampling.")
	return p.Finish()
}

// readThrough asks the reader process for n bytes at off and returns them.
func readThrough(p *lesson.Child, off, n int) (string, error) {
	if err := p.Send(fmt.Sprintf("READ %d %d", off, n)); err != nil {
		return "", err
	}
	fields, err := p.Await("BYTES")
	if err != nil {
		return "", err
	}
	if len(fields) != 1 {
		return "", fmt.Errorf("the reader (pid %d) sent %q, not one hex string", p.Pid, fields)
	}
	b, err := hex.DecodeString(fields[0])
	if err != nil {
		return "", fmt.Errorf("the reader (pid %d): %w", p.Pid, err)
	}
	return string(b), nil
}

// runReader is the second process of step 11: it attaches the segment and, for
// each line "READ OFF N" on its standard input, reads N bytes at offset OFF and
// tells them to the parent (BYTES, in hex), until the input ends.
func runReader(l *lesson.Lesson, args []string) error {
	b, err := attachParents(l, args, 0)
	if err != nil {
		return err
	}
	l.Tell("READY")
	in := bufio.NewScanner(l.In)
	for in.Scan() {
		var off, n int
		if _, err := fmt.Sscanf(in.Text(), "READ %d %d", &off, &n); err != nil {
			return fmt.Errorf("the parent sent %q, not READ OFF N", in.Text())
		}
		if off < 0 || n < 0 || off+n > len(b) {
			return fmt.Errorf("READ %d %d is outside the %d-byte segment", off, n, len(b))
		}
		got := b[off : off+n]
		l.Result("read %d bytes at offset %d: %q", n, off, strings.TrimRight(string(got), "\x00"))
		l.Tell("BYTES", hex.EncodeToString(got))
	}
	return detachRole(l, b)
}
