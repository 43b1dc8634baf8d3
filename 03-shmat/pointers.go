//go:build linux

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
)

// stringOff is where step 14 stores a string header (data pointer and length, 8
// bytes each): bytes 16 to 32 of the lab.
const stringOff = labOff + 16

// pointerTrap is step 14. A Go string is a pointer to its bytes and a length. The
// lesson stores those two words in the segment, as *(*string)(unsafe.Pointer(&b[off])) = s
// would, and a second process (runPointerReader) follows the pointer in its own
// address space.
func (t *tour) pointerTrap() error {
	l := t.l
	l.Step("Go trap: a pointer stored in the segment")
	s := fmt.Sprintf("a string in the heap of pid %d", os.Getpid())
	ptr := uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))
	l.Call("store s's two words at offset %d: data pointer %#x, length %d    (s = %q)", stringOff, ptr, len(s), s)
	l.Say("These are the 16 bytes *(*string)(unsafe.Pointer(&first[%d])) = s would store.", stringOff)
	binary.NativeEndian.PutUint64(t.first[stringOff:], ptr)
	binary.NativeEndian.PutUint64(t.first[stringOff+8:], uint64(len(s)))
	l.Result("in this process %#x is in: %s", ptr, mapsLine(uintptr(ptr)))
	l.Look("grep rw-p /proc/%d/maps    (this process's anonymous mappings: its Go heap is one of them)", os.Getpid())
	l.Call("%s %s %d    (reads the two words and looks at that address in its own memory)", name, rolePointerReader, t.id)
	p, err := startRole(l, nil, rolePointerReader, strconv.Itoa(t.id))
	if err != nil {
		return err
	}
	found, err := p.Await("FOUND")
	if err != nil {
		return err
	}
	if err := p.Finish(); err != nil {
		return fmt.Errorf("the pointer reader (pid %d): %w", p.Pid, err)
	}
	if len(found) > 0 && found[0] == "mapped" {
		l.Result("the other process found bytes of its own at %#x, not the string: no fault, wrong data", ptr)
		l.Say("An address means something only in the process it came from. Here the two Go heaps")
		l.Say("begin at the same address (as they do in a program built with -race, for one), so")
		l.Say("the pointer lands in the other process's own heap: it reads that process's data,")
		l.Say("and nothing warns you.")
	} else {
		l.Result("nothing is mapped at %#x in the other process: reading through the pointer there would fault", ptr)
		l.Say("An address means something only in the process it came from. %s starts each", runtime.Version())
		l.Say("process's Go heap at a random address, so here the pointer leads nowhere. Built with")
		l.Say("-race (or GOEXPERIMENT=norandomizedheapbase64) every Go heap starts at 0xc000000000,")
		l.Say("and the same pointer lands in the other process's own heap: its data, no fault.")
	}
	l.Say("In this process too such a pointer is unsafe: the garbage collector does not scan the")
	l.Say("segment, so if the segment held the only reference to s, s could be freed and its")
	l.Say("memory reused. Slices (pointer, len, cap), maps (a pointer to the runtime's table),")
	l.Say("interfaces, channels and funcs hold pointers too. Store the bytes themselves, at an")
	l.Say("offset, with their length (the header's MsgOff and MsgLen, step 4), fixed-size")
	l.Say("arrays, and numbers.")
	clear(t.first[stringOff : stringOff+16])
	return nil
}

// runPointerReader is the second process of step 14: it reads the data pointer and
// length at stringOff and looks at that address in its own address space, through
// /proc/self/maps and /proc/self/mem (a read there returns what dereferencing the
// pointer would, and EIO where dereferencing would fault). It tells the parent
// FOUND mapped or FOUND unmapped.
func runPointerReader(l *lesson.Lesson, args []string) error {
	b, err := attachParents(l, args, unix.SHM_RDONLY)
	if err != nil {
		return err
	}
	ptr := binary.NativeEndian.Uint64(b[stringOff:])
	n := binary.NativeEndian.Uint64(b[stringOff+8:])
	l.Result("at offset %d: data pointer %#x, length %d", stringOff, ptr, n)
	where := findMapping(uintptr(ptr))
	if where == "" {
		l.Result("in my address space nothing is mapped at %#x", ptr)
		l.Tell("FOUND", "unmapped")
		return detachRole(l, b)
	}
	l.Result("in my address space %#x is in: %s", ptr, where)
	got, err := readOwnMemory(ptr, min(n, 64))
	if err != nil {
		return err
	}
	l.Result("the %d bytes there: %q", len(got), printable(got))
	l.Tell("FOUND", "mapped")
	return detachRole(l, b)
}

// readOwnMemory reads n bytes at address a of this process through /proc/self/mem.
func readOwnMemory(a, n uint64) ([]byte, error) {
	if a > math.MaxInt64 {
		return nil, nil // beyond any offset: nothing the file can show
	}
	f, err := os.Open("/proc/self/mem")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, n)
	k, err := f.ReadAt(buf, int64(a))
	if err != nil && !errors.Is(err, unix.EIO) {
		return nil, fmt.Errorf("reading /proc/self/mem at %#x: %w", a, err)
	}
	return buf[:k], nil
}
