//go:build linux

package fastring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"

	"github.com/learn-sysv/shm-course/06-sync/header"
	"github.com/learn-sysv/shm-course/internal/sem"
)

// MaxMessage is the largest message: its length must fit the record header's uint32.
const MaxMessage = math.MaxUint32

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("fastring: send after the end of the stream")

// Sender is the producer's end of a ring. The program has claimed the producer role
// in the common header; only one process may be it.
type Sender struct {
	end
	tail       uint64 // my position in the stream; the shared tail is published from it
	cachedHead uint64 // the consumer's head as last read: at least this much is free
	closed     bool
}

// NewSender returns the producer's end of the ring in seg, which Format laid out.
func NewSender(seg []byte, set *sem.Set) (*Sender, error) {
	v, err := newView(seg)
	if err != nil {
		return nil, err
	}
	s := &Sender{end: end{view: v, set: set, hdr: header.Of(seg),
		me: header.Producer, peer: header.Consumer,
		myFlag: v.producerWaits, peerFlag: v.consumerWaiting, mySem: SemSpace, peerSem: SemData}}
	s.tail = atomic.LoadUint64(v.tail)
	s.cachedHead = atomic.LoadUint64(v.head)
	return s, nil
}

// Send writes msg as one record. A record that fits the ring is published at once;
// a larger one streams through the ring in pieces of at most half of it.
func (s *Sender) Send(msg []byte) error {
	if s.closed {
		return ErrClosed
	}
	if uint64(len(msg)) > MaxMessage {
		return fmt.Errorf("fastring: message of %d bytes: the largest is %d", len(msg), uint64(MaxMessage))
	}
	return s.record(msg, TagMessage)
}

// Close sends the end-of-stream marker and waits until the consumer has taken it
// (its head has reached the end), so that the producer may then exit and remove the
// objects without taking data away from the consumer.
func (s *Sender) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.record(nil, TagEnd); err != nil {
		return err
	}
	return s.reserveAll()
}

func (s *Sender) record(msg []byte, tag uint32) error {
	total := recordSize(len(msg))
	start := s.tail
	if total <= s.capacity {
		// The common case: the whole record, then one atomic store.
		if err := s.reserve(start + total); err != nil {
			return err
		}
		s.putHeader(start, len(msg), tag)
		s.copyIn(start+recordHeader, msg)
		return s.publish(start + total)
	}
	// Larger than the ring: the header, then the payload and its padding in
	// pieces, each published as soon as it is written, so that the consumer can
	// copy it out and make room for the next.
	if err := s.reserve(start + recordHeader); err != nil {
		return err
	}
	s.putHeader(start, len(msg), tag)
	pos, end := start+recordHeader, start+total
	for pos < end {
		n := min(end-pos, s.capacity/2)
		if err := s.reserve(pos + n); err != nil {
			return err
		}
		if off := pos - start - recordHeader; off < uint64(len(msg)) {
			s.copyIn(pos, msg[off:min(off+n, uint64(len(msg)))])
		}
		pos += n
		if err := s.publish(pos); err != nil {
			return err
		}
	}
	return nil
}

// reserve waits until the ring has room for everything before stream position upTo.
func (s *Sender) reserve(upTo uint64) error {
	if upTo-s.cachedHead <= s.capacity {
		return nil // known free without touching the consumer's cache line
	}
	return s.wait(func() bool {
		s.cachedHead = atomic.LoadUint64(s.head)
		return upTo-s.cachedHead <= s.capacity
	})
}

// reserveAll waits until the consumer has read everything: the ring is empty.
func (s *Sender) reserveAll() error {
	return s.wait(func() bool {
		s.cachedHead = atomic.LoadUint64(s.head)
		return s.cachedHead == s.tail
	})
}

func (s *Sender) putHeader(pos uint64, length int, tag uint32) {
	h := s.data[pos&s.mask:]
	binary.NativeEndian.PutUint32(h[0:4], uint32(length))
	binary.NativeEndian.PutUint32(h[4:8], tag)
}

// publish makes everything before stream position newTail visible to the consumer,
// then wakes it if it is going to sleep.
func (s *Sender) publish(newTail uint64) error {
	s.tail = newTail
	publishIndex(s.view.tail, newTail) // then wake loads the consumer's flag
	return s.wake()
}

// Receiver is the consumer's end of a ring. The program has claimed the consumer
// role in the common header; only one process may be it.
type Receiver struct {
	end
	head       uint64 // my position in the stream
	published  uint64 // the head last stored in the shared header
	cachedTail uint64 // the producer's tail as last read: data is there up to it
	ended      bool
}

// NewReceiver returns the consumer's end of the ring in seg, which Format laid out.
func NewReceiver(seg []byte, set *sem.Set) (*Receiver, error) {
	v, err := newView(seg)
	if err != nil {
		return nil, err
	}
	r := &Receiver{end: end{view: v, set: set, hdr: header.Of(seg),
		me: header.Consumer, peer: header.Producer,
		myFlag: v.consumerWaiting, peerFlag: v.producerWaits, mySem: SemData, peerSem: SemSpace}}
	r.head = atomic.LoadUint64(v.head)
	r.published = r.head
	r.cachedTail = atomic.LoadUint64(v.tail)
	return r, nil
}

// Receive copies the next message into buf and returns its length. After the
// end-of-stream marker it returns io.EOF; if buf is too small for the next message,
// io.ErrShortBuffer, leaving the message in the ring.
func (r *Receiver) Receive(buf []byte) (int, error) {
	if r.ended {
		return 0, io.EOF
	}
	start := r.head
	if err := r.await(start + recordHeader); err != nil {
		return 0, err
	}
	h := r.data[start&r.mask:]
	length := int(binary.NativeEndian.Uint32(h[0:4]))
	switch tag := binary.NativeEndian.Uint32(h[4:8]); tag {
	case TagMessage:
	case TagEnd:
		// Publish at once: the producer's Close waits for this.
		r.ended = true
		r.head = start + recordHeader
		if err := r.flush(); err != nil {
			return 0, err
		}
		return 0, io.EOF
	default:
		return 0, fmt.Errorf("fastring: corrupt ring: the record at stream position %d has tag %d", start, tag)
	}
	if length > len(buf) {
		return 0, fmt.Errorf("fastring: a %d-byte message does not fit the %d-byte buffer: %w", length, len(buf), io.ErrShortBuffer)
	}
	total := recordSize(length)
	if total <= r.capacity {
		// Published in one piece: the header's arrival means the whole record is there.
		r.copyOut(buf[:length], start+recordHeader)
		return length, r.release(start + total)
	}
	// Streamed: copy each piece as soon as it is published, and free it.
	pos, end := start+recordHeader, start+total
	for pos < end {
		if err := r.await(pos + 1); err != nil {
			return 0, err
		}
		upTo := min(end, r.cachedTail)
		if off := pos - start - recordHeader; off < uint64(length) {
			r.copyOut(buf[off:min(upTo-start-recordHeader, uint64(length))], pos)
		}
		pos = upTo
		if err := r.release(pos); err != nil {
			return 0, err
		}
	}
	return length, nil
}

// await waits until the stream holds data up to position upTo. Before it waits it
// publishes its head: the producer may be waiting for that space, and a side must
// never sleep while it owes the other an index.
func (r *Receiver) await(upTo uint64) error {
	if r.cachedTail >= upTo {
		return nil // known published without touching the producer's cache line
	}
	if err := r.flush(); err != nil {
		return err
	}
	return r.wait(func() bool {
		r.cachedTail = atomic.LoadUint64(r.tail)
		return r.cachedTail >= upTo
	})
}

// release records that the bytes before newHead are read and publishes the new
// head at once. Holding it back to store it less often measured no faster here,
// and it would keep space that is free from a producer that waits for it while
// this process is busy elsewhere (for example, blocked sending a reply).
func (r *Receiver) release(newHead uint64) error {
	r.head = newHead
	return r.flush()
}

// flush publishes the head, then wakes the producer if it is going to sleep. A
// side must never sleep while it owes the other an index, so await calls it too.
func (r *Receiver) flush() error {
	if r.head == r.published {
		return nil
	}
	r.published = r.head
	publishIndex(r.view.head, r.head) // then wake loads the producer's flag
	return r.wake()
}
