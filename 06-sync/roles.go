//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/learn-sysv/shm-course/06-sync/header"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/sem"
)

// join is what both roles do first: meet under the key, claim the role, wait
// for the peer, and remove the segment early. Once the two objects are found,
// it returns the endpoint even with an error.
func join(l *lesson.Lesson, st *stepper, f *streamFlags, role header.Role) (*endpoint, transport, error) {
	key, t, err := f.check(l)
	if err != nil {
		return nil, nil, err
	}
	st.Step("Meet the %v under key %v (transport %s)", role.Peer(), key, f.transport)
	ep, err := meet(l, key, t, f.config(), f.wait)
	if err != nil {
		return nil, nil, err
	}
	if !ep.created {
		l.Say("the creator formatted it: %s", t.Describe(ep.seg))
	}
	if !launched() {
		ep.peerCommand = peerCommand(l, f, role.Peer().String())
	}
	maxMessage := 0
	if role == header.Producer {
		maxMessage = max(f.size, trailerSize) // the trailer is a message too
	}
	st.Step("Claim the %v role and wait for the %v", role, role.Peer())
	if err := ep.awaitPeer(l, role, maxMessage, f.wait); err != nil {
		return ep, nil, err
	}
	if role == header.Consumer {
		if _, err := ep.awaitMaxMessage(l, f.wait); err != nil {
			return ep, nil, err
		}
	}
	ep.removeEarly(l)
	return ep, t, nil
}

func produce(l *lesson.Lesson, args []string) (err error) {
	var f streamFlags
	f.define(l)
	if err := l.Parse(args); err != nil {
		return err
	}
	if err := noArguments(l); err != nil {
		return err
	}
	st := newStepper(l)
	var ep *endpoint
	defer func() { err = ep.signalMayFollow(err) }()
	ep, t, err := join(l, st, &f, header.Producer)
	if err != nil {
		return err
	}
	out, err := t.Sender(ep.seg, ep.set)
	if err != nil {
		return err
	}
	st.Step("Send %d messages of %s", f.messages, sizeWords(&f))
	var sent tally
	buf := make([]byte, f.size)
	start := time.Now()
	for i := uint64(0); i < uint64(f.messages); i++ {
		msg := buf[:messageSize(i, f.size, f.mixed)]
		fillMessage(msg, i)
		sent.add(msg)
		if err := out.Send(msg); err != nil {
			return fmt.Errorf("sending message %d: %w", i, err)
		}
		pause(f.delay)
	}
	if err := out.Send(sent.trailer()); err != nil {
		return fmt.Errorf("sending the trailer: %w", err)
	}
	l.Call("end of stream, then wait until the consumer has taken it")
	if err := out.Close(); err != nil {
		return fmt.Errorf("closing the stream: %w", err)
	}
	l.Result("sent %d messages, %d bytes in %.3f s, crc32 %#08x", sent.messages, sent.bytes, time.Since(start).Seconds(), sent.crc)
	return nil
}

func consume(l *lesson.Lesson, args []string) (err error) {
	var f streamFlags
	f.define(l)
	if err := l.Parse(args); err != nil {
		return err
	}
	if err := noArguments(l); err != nil {
		return err
	}
	st := newStepper(l)
	var ep *endpoint
	defer func() { err = ep.signalMayFollow(err) }()
	ep, t, err := join(l, st, &f, header.Consumer)
	if err != nil {
		return err
	}
	in, err := t.Receiver(ep.seg, ep.set)
	if err != nil {
		return err
	}
	st.Step("Receive until the end-of-stream marker, checking order, contents and checksum")
	buf := make([]byte, max(ep.hdr.MaxMessage(), trailerSize))
	var got, want tally
	var start time.Time
	trailer := false
	for {
		n, err := in.Receive(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("receiving message %d: %w", got.messages, err)
		}
		if start.IsZero() {
			start = time.Now()
		}
		msg := buf[:n]
		if trailer {
			return fmt.Errorf("a message after the trailer")
		}
		if t, ok := parseTrailer(msg); ok {
			want, trailer = t, true
			continue
		}
		if n < 8 {
			return fmt.Errorf("message %d is %d bytes, shorter than its 8-byte sequence number", got.messages, n)
		}
		if seq := leUint64(msg); seq != got.messages {
			return fmt.Errorf("out of order: message %d carries sequence number %d", got.messages, seq)
		}
		if err := checkPattern(msg, got.messages); err != nil {
			return err
		}
		got.add(msg)
		pause(f.delay)
	}
	seconds := time.Since(start).Seconds()
	if start.IsZero() {
		seconds = 0
	}
	if !trailer {
		return fmt.Errorf("the stream ended without the producer's trailer after %d messages", got.messages)
	}
	st.Step("Summary")
	l.Result("messages: %d", got.messages)
	l.Result("bytes: %d", got.bytes)
	l.Result("seconds: %.3f", seconds)
	if seconds > 0 && got.messages > 0 {
		l.Result("throughput: %.1f MB/s, %.0f messages/s", float64(got.bytes)/seconds/1e6, float64(got.messages)/seconds)
	}
	if got.messages == 0 {
		l.Result("order: no data messages, only the trailer")
	} else {
		l.Result("order: sequence numbers 0..%d, each once, in order", got.messages-1)
		l.Result("contents: every byte k >= 8 of message i is (i + k) & 0xff, as documented")
	}
	if got != want {
		return fmt.Errorf("checksum MISMATCH: received %d messages, %d bytes, crc32 %#08x; the producer sent %d, %d, %#08x",
			got.messages, got.bytes, got.crc, want.messages, want.bytes, want.crc)
	}
	l.Result("checksum: crc32 %#08x verified (matches the producer's count, bytes and crc32)", got.crc)
	return nil
}

// How long a side whose peer vanished waits for a signal of its own before it
// reports the failure (signalMayFollow).
const (
	launchedGrace = 5 * time.Second
	pairGrace     = time.Second
)

// signalMayFollow marks a failure that may be the echo of a signal on its way to
// this process too (lesson.SignalMayFollow): a signal reached the peer, whose
// cleanup removed the objects the two share, and this side failed on that before
// it handled its own signal. Ctrl-C reaches every process of the terminal's
// process group at once, but each handles it when the scheduler lets it run: on a
// busy machine the peer may be done with its cleanup before this side has run at
// all. ep may be nil (the failure came before the meeting found the objects).
//
//   - Started by the launcher, this side is certain to get a signal whenever its
//     peer has gone: the same one (Ctrl-C reaches the launcher and both children),
//     or the launcher's SIGTERM, which it sends to the other child as soon as one
//     ends with an error or a signal. So whatever its peer's end was, this side
//     waits for that signal and ends for it, and the launcher gives the verdict.
//     The limit matters only if the launcher itself is gone (killed with
//     SIGKILL); it kills a child 3 s after its SIGTERM anyway.
//   - Started by hand, in its own terminal, no Ctrl-C reaches both sides, but one
//     command can signal both (kill with both pids, pkill, a shutdown). A peer that
//     is gone and removed the set ran its cleanup, as it does on a signal: this
//     side waits up to pairGrace for a signal of its own. A peer killed with
//     SIGKILL runs no cleanup and leaves the set: that is reported without the
//     wait.
func (ep *endpoint) signalMayFollow(err error) error {
	switch {
	case err == nil || !peerVanished(err):
		return err
	case launched():
		return lesson.SignalMayFollow(err, launchedGrace)
	case errors.Is(err, sem.ErrRemoved) || ep.setRemoved():
		return lesson.SignalMayFollow(err, pairGrace)
	}
	return err
}

// peerVanished reports whether err says that the peer ended before this side
// was done with it: it died or stopped (PeerGoneError: no such process, or the
// semaphore set removed), or died while starting (creatorGoneError).
func peerVanished(err error) bool {
	var gone *header.PeerGoneError
	var creatorGone *creatorGoneError
	return errors.As(err, &gone) || errors.As(err, &creatorGone) || errors.Is(err, sem.ErrRemoved)
}

// pause waits d (-delay) between two messages, so that a learner can watch the ring
// fill up (a slow consumer) or run dry (a slow producer).
func pause(d time.Duration) {
	if d > 0 {
		time.Sleep(d)
	}
}

func sizeWords(f *streamFlags) string {
	if f.mixed {
		return fmt.Sprintf("8 to %d bytes", f.size)
	}
	return fmt.Sprintf("%d bytes", f.size)
}

// stepper pauses a side before each of its steps. Started by a person, the side
// pauses with its own -step (lesson.Step waits for Enter on its terminal). Started
// by the launcher with -step, it has no terminal of its own: before each step it
// tells the launcher (a protocol line, "@@ STEP") and waits for the line the
// launcher sends when the learner presses Enter. The launcher asks for the Enters
// of its two children in turn, so that one keyboard drives both.
type stepper struct {
	l  *lesson.Lesson
	in *bufio.Reader // from the launcher; nil when the launcher does not step this side
}

func newStepper(l *lesson.Lesson) *stepper {
	st := &stepper{l: l}
	if launchedStepping() {
		st.in = bufio.NewReader(l.In)
	}
	return st
}

// Step starts a numbered step, like lesson.Step, and pauses as above.
func (st *stepper) Step(format string, args ...any) {
	st.l.Step(format, args...)
	if st.in == nil {
		return
	}
	st.l.Tell("STEP")
	if _, err := st.in.ReadString('\n'); err != nil {
		st.in = nil // the launcher has gone, or stopped stepping: run on
	}
}
