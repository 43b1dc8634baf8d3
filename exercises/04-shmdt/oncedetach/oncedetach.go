//go:build linux

// Package oncedetach is an attachment to a System V shared memory segment that
// detaches exactly once, however many times, and from however many goroutines,
// Close is called.
package oncedetach

import "errors"

// ErrClosed is what Close returns for every call after the first.
var ErrClosed = errors.New("oncedetach: attachment already closed")

// Attachment is one shmat(2) mapping of a segment into this process.
type Attachment struct {
	// TODO: the fields you need (the mapped bytes, and what makes Close run once).
}

// Attach attaches segment id with flags (0 for read-write, unix.SHM_RDONLY for
// read-only), letting the kernel choose the address. On failure it returns a nil
// *Attachment and an error that wraps the errno.
func Attach(id int, flags int) (*Attachment, error) {
	return nil, errors.New("TODO: implement Attach (read README.md, then HINTS.md)")
}

// Bytes returns the mapped segment, or nil once the attachment is closed.
func (a *Attachment) Bytes() []byte {
	return nil // TODO: return the mapping while it is attached
}

// Close detaches the segment (shmdt). The first call detaches and returns its
// result; every later call, from any goroutine, returns ErrClosed and never calls
// shmdt again.
func (a *Attachment) Close() error {
	return errors.New("TODO: implement Close (read README.md, then HINTS.md)")
}
