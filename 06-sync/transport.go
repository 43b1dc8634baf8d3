//go:build linux

package main

import (
	"github.com/learn-sysv/shm-course/internal/sem"
)

// A transport moves a stream of messages from the producer process to the consumer
// process through one System V shared memory segment and one semaphore set.
//
// The program (roles.go, objects.go) owns the objects: it creates or opens the
// segment and the set under the rendezvous key, checks the common header (package
// header: magic, version, kind, pids), waits for the peer, removes the objects, and
// handles signals. A transport only lays out the bytes after the common header and
// uses them: it never creates or removes anything.
//
// Sequence, as the program drives it:
//
//	creator:  Layout -> shmget/shmat + sem.Create(values) -> Format -> header.Publish
//	opener:   shmget/shmat -> wait for header.Published -> stale? -> header.Check(Kind, KindVersion, size)
//	          -> wait for the set's sem_otime != 0
//	both:     header.Claim(role) (the producer then stores its max message) -> wait for the peer's pid
//	          (the consumer then waits for max message != 0)
//	producer: Sender -> Send ... Send -> Close (end of stream; returns once the consumer has taken it)
//	consumer: Receiver -> Receive ... until io.EOF
//
// While it blocks, a transport must notice a dead peer within 2 seconds and return
// an error wrapping *header.PeerGoneError (use a timed wait and header.PeerGone), and
// treat sem.ErrRemoved the same way: the peer's cleanup removed the set.
//
// To add a transport, implement this interface in its own package and add a line to
// the transports table below.
type transport interface {
	// Kind and KindVersion are stored in the common header by the creator and
	// checked by the opener.
	Kind() uint32
	KindVersion() uint32
	// Layout returns the segment size (including the 64-byte common header) and the
	// initial values of the semaphore set for the ring shape cfg.
	Layout(cfg ringConfig) (segSize int, semValues []int)
	// Format lays out a fresh, zero-filled segment after the common header, for cfg.
	// Only the creator calls it, before it publishes the header.
	Format(seg []byte, cfg ringConfig) error
	// Describe says, in one line for the narration, how the segment is laid out.
	Describe(seg []byte) string
	// Sender and Receiver attach to a published segment and its set.
	Sender(seg []byte, set *sem.Set) (sender, error)
	Receiver(seg []byte, set *sem.Set) (receiver, error)
}

// ringConfig is the shape the creator asks for. A transport may read it its own way
// (a byte-stream ring may use Slots*SlotSize bytes).
type ringConfig struct {
	Slots    int // how many slots
	SlotSize int // payload bytes per slot; longer messages take several slots
}

// sender is the producer's end.
type sender interface {
	// Send delivers msg (any length), blocking while the ring is full. It returns an
	// error wrapping *header.PeerGoneError if the consumer has gone.
	Send(msg []byte) error
	// Close sends the end-of-stream marker and waits until the consumer has taken
	// it, so that the producer may then exit and remove the objects.
	Close() error
}

// receiver is the consumer's end.
type receiver interface {
	// Receive copies the next message into buf and returns its length, io.EOF after
	// the end-of-stream marker, io.ErrShortBuffer if buf cannot hold the message, or
	// an error wrapping *header.PeerGoneError if the producer has gone.
	Receive(buf []byte) (int, error)
}

// transports is the -transport table: name -> implementation. The first is the
// default.
var transports = []struct {
	name string
	impl transport
}{
	{"semring", semringTransport{}},
	{"fast", fastTransport{}},
}

// transportNamed returns the transport called name.
func transportNamed(name string) (transport, bool) {
	for _, t := range transports {
		if t.name == name {
			return t.impl, true
		}
	}
	return nil, false
}

// transportNames lists the names for -h and errors.
func transportNames() []string {
	var names []string
	for _, t := range transports {
		names = append(names, t.name)
	}
	return names
}
