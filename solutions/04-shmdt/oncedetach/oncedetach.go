//go:build linux

// Package oncedetach is an attachment to a System V shared memory segment that
// detaches exactly once, however many times, and from however many goroutines,
// Close is called.
package oncedetach

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrClosed is what Close returns for every call after the first.
var ErrClosed = errors.New("oncedetach: attachment already closed")

// Attachment is one shmat(2) mapping of a segment into this process.
type Attachment struct {
	mu  sync.Mutex
	mem []byte // the mapping as shmat returned it; nil once detached
}

// Attach attaches segment id with flags (0 for read-write, unix.SHM_RDONLY for
// read-only), letting the kernel choose the address. On failure it returns a nil
// *Attachment and an error that wraps the errno.
func Attach(id int, flags int) (*Attachment, error) {
	mem, err := unix.SysvShmAttach(id, 0, flags)
	if err != nil {
		return nil, fmt.Errorf("shmat(%d, NULL, %#x): %w", id, flags, err)
	}
	return &Attachment{mem: mem}, nil
}

// Bytes returns the mapped segment, or nil once the attachment is closed.
func (a *Attachment) Bytes() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mem
}

// Close detaches the segment (shmdt). The first call detaches and returns its
// result; every later call, from any goroutine, returns ErrClosed and never calls
// shmdt again.
func (a *Attachment) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mem == nil {
		// Calling shmdt again would not be harmless: if another shmat has since
		// been given the same address, it would detach that one (shmop(2)).
		return ErrClosed
	}
	mem := a.mem
	a.mem = nil // forget it even if shmdt fails: the address is not ours to retry
	if err := unix.SysvShmDetach(mem); err != nil {
		return fmt.Errorf("shmdt(%p): %w", &mem[0], err)
	}
	return nil
}
