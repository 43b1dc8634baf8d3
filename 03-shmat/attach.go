//go:build linux

package main

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/shm"
)

// create is step 1: the segment the lesson attaches (lesson 02 is about shmget).
func (t *tour) create() error {
	l := t.l
	l.Step("Create a segment to attach (lesson 02)")
	call := fmt.Sprintf("shmget(IPC_PRIVATE, %d, IPC_CREAT|IPC_EXCL|0600)", t.size)
	l.Call("%s", call)
	id, err := shm.Create(l, unix.IPC_PRIVATE, t.size, unix.IPC_CREAT|unix.IPC_EXCL|0o600) // removed when the lesson ends
	if err != nil {
		return lesson.Failed(call, err, whyShmget(err))
	}
	t.id = id
	l.Result("id %d", id)
	l.Say("The segment belongs to the kernel, not to this process. Any number of processes")
	l.Say("may attach it, the creator included, each mapping it into its own address space.")
	l.Look("ipcs -m -i %d", id)
	return nil
}

// attachTwice is steps 2 and 3: the segment attached twice in this process, two
// addresses, one segment.
func (t *tour) attachTwice() error {
	l := t.l
	l.Step("Attach it: shmat(id, NULL, 0)")
	first, err := attach(l, t.id, 0)
	if err != nil {
		return err
	}
	t.first = first
	l.Result("mapped at %#x, a []byte of %d bytes", shm.Addr(first), len(first))
	l.Say("C's shmat returns a void *, and (void *)-1 with errno on failure. x/sys/unix's")
	l.Say("SysvShmAttach returns a []byte over the mapping (len = the segment's size) and an error.")
	l.Say("NULL (0 in Go) lets the kernel pick a free page-aligned address: the portable choice.")
	l.Result("/proc/self/maps: %s", mapsLine(shm.Addr(first)))
	l.Say("rw-s: read, write, shared. SYSV00000000 is the key (0: IPC_PRIVATE); the inode column is the id.")
	if err := sayNattch(l, t.id, "one attachment"); err != nil {
		return err
	}
	l.Look("grep SYSV /proc/%d/maps", os.Getpid())

	l.Step("Attach the same segment a second time, in the same process")
	second, err := attach(l, t.id, 0)
	if err != nil {
		return err
	}
	t.second = second
	l.Result("mapped at %#x (the first attachment is at %#x)", shm.Addr(second), shm.Addr(first))
	if err := sayNattch(l, t.id, "counts attachments, not processes: one process, two attachments"); err != nil {
		return err
	}
	greeting := "written through the first address"
	l.Call("copy(first, %q); then read second[:%d]", greeting, len(greeting))
	copy(first, greeting)
	l.Result("%q", second[:len(greeting)])
	l.Say("Two virtual addresses, one set of physical pages: a write through one is there")
	l.Say("at once through the other. Nothing was copied.")
	clear(first[:len(greeting)])
	return nil
}
