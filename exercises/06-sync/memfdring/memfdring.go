//go:build linux

// Package memfdring gives two processes the memory of 06-sync's ring without a
// System V key: the memory is an anonymous file (memfd_create), and the process that
// made it hands the file's descriptor to the other over a Unix socket (SCM_RIGHTS).
// Write Create, Send and Receive; README.md says what each must do.
package memfdring

import (
	"errors"
	"net"
)

var (
	// ErrNoDescriptor: the message did not carry exactly one file descriptor.
	ErrNoDescriptor = errors.New("the message did not carry exactly one file descriptor")
	// ErrNotSealed: the descriptor is not a memory file sealed against shrinking and
	// growing, so its size could change under the mapping.
	ErrNotSealed = errors.New("the file is not sealed against shrinking and growing")
)

// Create makes size bytes of shared memory that has no name in any namespace: an
// anonymous file from memfd_create(2) (name only shows in /proc/PID/fd), sized with
// ftruncate, sealed against shrinking and growing (and against new seals), and mapped
// shared. It returns the mapping and the file's descriptor, which is close-on-exec;
// the caller sends the descriptor with Send and then closes it.
func Create(name string, size int) (mem []byte, fd int, err error) {
	return nil, -1, errors.New("TODO: implement Create (read README.md, then HINTS.md)")
}

// Send passes fd and the id of the ring's semaphore set to the process at the other
// end of conn, in one message: setID as 4 bytes of data (little-endian uint32), fd
// in an SCM_RIGHTS control message. fd stays open in this process.
func Send(conn *net.UnixConn, fd int, setID int) error {
	return errors.New("TODO: implement Send (read README.md, then HINTS.md)")
}

// Receive takes one message that Send sent from conn and returns the memory, mapped
// shared, and the semaphore set's id. It refuses a message without exactly one
// descriptor (ErrNoDescriptor) and a file that is not sealed against shrinking and
// growing (ErrNotSealed). Whatever happens, it closes every descriptor it received:
// the mapping keeps the memory.
func Receive(conn *net.UnixConn) (mem []byte, setID int, err error) {
	return nil, 0, errors.New("TODO: implement Receive (read README.md, then HINTS.md)")
}
