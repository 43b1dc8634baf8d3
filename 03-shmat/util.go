//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
)

// The calls every step makes, with the lesson's narration and error messages, and
// small helpers: /proc/self/maps, names of flags and addresses, hex dumps.

// attach is shmat(id, NULL, flags), narrated, with the lesson's error message.
func attach(l *lesson.Lesson, id, flags int) ([]byte, error) {
	call := fmt.Sprintf("shmat(%d, NULL, %s)", id, flagNames(flags))
	l.Call("%s", call)
	b, err := unix.SysvShmAttach(id, 0, flags)
	if err != nil {
		return nil, lesson.Failed(call, err, whyShmat(err, id))
	}
	return b, nil
}

// sayNattch prints shm_nattch from IPC_STAT, with a note on why it is what it is.
func sayNattch(l *lesson.Lesson, id int, note string) error {
	var ds unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds); err != nil {
		return lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_STAT)", id), err, whyShmat(err, id))
	}
	l.Result("shm_nattch %d: %s", ds.Nattch, note)
	return nil
}

// mapsLine returns this process's /proc/self/maps line for the mapping at a.
func mapsLine(a uintptr) string {
	line := findMapping(a)
	if line == "" {
		return "(not found)"
	}
	return line
}

// mapsRange returns the START-END of the mapping at a, as /proc/PID/map_files names it.
func mapsRange(a uintptr) string {
	start, _, _ := strings.Cut(findMapping(a), " ")
	return start
}

// findMapping returns the /proc/self/maps line of the mapping that holds address a,
// or "" if none does.
func findMapping(a uintptr) string {
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(maps), "\n") {
		span, _, _ := strings.Cut(line, " ")
		lo, hi, ok := strings.Cut(span, "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 == nil && err2 == nil && uint64(a) >= start && uint64(a) < end {
			return strings.Join(strings.Fields(line), " ")
		}
	}
	return ""
}

// addrName spells an attach address as C would: NULL or hex.
func addrName(at uintptr) string {
	if at == 0 {
		return "NULL"
	}
	return fmt.Sprintf("%#x", at)
}

func flagNames(flags int) string {
	var names []string
	for _, f := range []struct {
		bit  int
		name string
	}{{unix.SHM_RDONLY, "SHM_RDONLY"}, {unix.SHM_RND, "SHM_RND"}} {
		if flags&f.bit != 0 {
			names = append(names, f.name)
		}
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
}

// hexDump formats the first n bytes of b like hexdump -C.
func hexDump(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	var out strings.Builder
	for off := 0; off < len(b); off += 16 {
		row := b[off:min(off+16, len(b))]
		fmt.Fprintf(&out, "%04x  % x  %s\n", off, row, printable(row))
	}
	return out.String()
}

// printable is b with every byte that is not printable ASCII shown as '.'.
func printable(b []byte) string {
	p := []byte(string(b))
	for i, c := range p {
		if c < 0x20 || c > 0x7e {
			p[i] = '.'
		}
	}
	return string(p)
}

// whyShmat explains an errno of shmat(2) or IPC_STAT.
func whyShmat(err error, id int) string {
	switch {
	case errors.Is(err, unix.EINVAL):
		return fmt.Sprintf("no segment has id %d (ipcs -m lists them; a removed segment's id names nothing)", id)
	case errors.Is(err, unix.EACCES):
		return "the segment's mode does not let you read it (SHM_RDONLY) or read and write it (ipcs -m -i ID shows the mode)"
	case errors.Is(err, unix.EIDRM):
		return "the segment was being destroyed at that moment"
	case errors.Is(err, unix.ENOMEM):
		return "no room left in this process's address space"
	}
	return ""
}

// whyShmget explains the errnos creating a segment can give.
func whyShmget(err error) string {
	switch {
	case errors.Is(err, unix.EINVAL):
		return "the size is outside SHMMIN..SHMMAX (cat /proc/sys/kernel/shmmax)"
	case errors.Is(err, unix.ENOSPC):
		return "the system's segment count (shmmni) or total size (shmall) is used up: ipcs -m -u"
	case errors.Is(err, unix.ENOMEM):
		return "not enough memory for a segment this size"
	}
	return ""
}
