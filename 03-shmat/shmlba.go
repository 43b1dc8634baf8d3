//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// shmlba is step 9: SHM_RND rounds an address down to a multiple of SHMLBA; the
// lesson aims at an odd page, so the result shows whether SHMLBA is the page size
// here or more, and explains why it can be more (cache aliasing).
func (t *tour) shmlba() error {
	l := t.l
	l.Step("SHMLBA and SHM_RND, and why they exist")
	l.Say("Some CPUs look a byte up in their data cache by its virtual address. If one physical")
	l.Say("page is mapped at two virtual addresses that land in different cache lines, the two")
	l.Say("copies can disagree: a write through one address sits in its line while a read")
	l.Say("through the other finds an older one (cache aliasing). Linux prevents it by mapping")
	l.Say("a shared page only at addresses that are equal modulo SHMLBA, the span after which")
	l.Say("the cache's index repeats. So SHMLBA is larger than a page where caches alias that")
	l.Say("way (32-bit ARM: 16 KiB; MIPS: 256 KiB), and shmat with an address wants a multiple")
	l.Say("of it. SHM_RND rounds an address down to one. Here is what it is on this machine:")
	page := os.Getpagesize()
	odd, b, err := attachRoundedAtOddPage(l, t.id, page)
	if err != nil {
		return err
	}
	got := shm.Addr(b)
	switch {
	case got == odd:
		l.Result("mapped at %#x: rounded down to the page, an odd multiple of %d (page %#x)", got, page, got/uintptr(page))
		l.Say("Had SHMLBA been larger than a page, an odd page would have been rounded further")
		l.Say("down. So SHMLBA is the page size here, %d bytes: x86-64 (and arm64, for 64-bit", page)
		l.Say("programs) have no such aliasing. glibc's <sys/shm.h> says the same: SHMLBA is getpagesize().")
	default:
		l.Result("mapped at %#x: rounded down %d bytes, past the start of the page at %#x", got, odd+123-got, odd)
		l.Say("So SHMLBA is larger than a page on this machine.")
	}
	l.Look("getconf PAGESIZE; echo '#include <sys/shm.h>' | gcc -dM -E - | grep SHMLBA")
	l.Call("shmdt(%#x)", got)
	if err := unix.SysvShmDetach(b); err != nil {
		return lesson.Failed(fmt.Sprintf("shmdt(%#x)", got), err, "")
	}
	l.Say("With NULL the kernel picks a suitable address by itself: one more reason to pass NULL.")
	return nil
}

// attachRoundedAtOddPage finds a free range (mmap of three pages, then munmap) and
// attaches segment id with SHM_RND at 123 bytes into the range's odd-numbered page.
// It returns that page's address and the attachment. The range is free only until
// some other mapping takes it (the Go runtime maps memory when it needs to), so a
// failed attach is tried again, a few times.
func attachRoundedAtOddPage(l *lesson.Lesson, id, page int) (uintptr, []byte, error) {
	for try := 1; ; try++ {
		l.Call("mmap(NULL, %d, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS); munmap    (a free range to aim at)", 3*page)
		r, err := unix.Mmap(-1, 0, 3*page, unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			return 0, nil, lesson.Failed(fmt.Sprintf("mmap(NULL, %d)", 3*page), err, "")
		}
		odd := shm.Addr(r)
		if (odd/uintptr(page))%2 == 0 {
			odd += uintptr(page)
		}
		if err := unix.Munmap(r); err != nil {
			return 0, nil, lesson.Failed("munmap", err, "")
		}
		at := odd + 123
		l.Call("shmat(%d, %#x, SHM_RND)    (123 bytes into the odd page %#x)", id, at, odd)
		b, err := unix.SysvShmAttach(id, at, unix.SHM_RND)
		if err == nil {
			return odd, b, nil
		}
		if !errors.Is(err, unix.EINVAL) || try == 3 {
			return 0, nil, lesson.Failed(fmt.Sprintf("shmat(%d, %#x, SHM_RND)", id, at), err, "another mapping took the range in between; run the lesson again")
		}
		l.Result("%s: another mapping took the range in between; again", lesson.ErrnoText(err))
	}
}
