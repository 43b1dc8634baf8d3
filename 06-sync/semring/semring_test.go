//go:build linux

package semring

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/06-sync/header"
	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/sem"
)

func TestMain(m *testing.M) {
	Poll = 50 * time.Millisecond // a dead peer is noticed sooner; the protocol is the same
	ipctest.Helper("consume", helperConsume)
	ipctest.Helper("stall", helperStall)
	ipctest.Alongside() // private objects only
	ipctest.Main(m, nil)
}

// ring is a formatted semring, as the program makes it, removed at the end.
type ring struct {
	shmid int
	set   *sem.Set
	seg   []byte
}

func newRing(t *testing.T, slots, slotSize int) ring {
	t.Helper()
	size, values := Layout(slots, slotSize)
	id := ipctest.NewSegment(t, size, 0o600)
	seg := ipctest.Attach(t, id, 0)
	set, err := sem.Create(ftok.Private, 0o600, values...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = set.Remove() })
	h := header.Of(seg)
	h.Format(header.KindSemring, KindVersion, size)
	require.NoError(t, Format(seg, slots, slotSize))
	h.Publish()
	return ring{shmid: id, set: set, seg: seg}
}

func (r ring) ids() []string { return []string{strconv.Itoa(r.shmid), strconv.Itoa(r.set.ID())} }

func (r ring) value(t *testing.T, num int) int {
	t.Helper()
	v, err := r.set.Value(num)
	require.NoError(t, err)
	return v
}

var le = binary.LittleEndian

func TestStride(t *testing.T) {
	for _, tt := range []struct{ slotSize, stride int }{{1, 16}, {8, 16}, {9, 24}, {10, 24}, {16, 24}, {4096, 4104}} {
		assert.Equal(t, tt.stride, Stride(tt.slotSize), "slot size %d", tt.slotSize)
	}
	size, values := Layout(3, 10)
	assert.Equal(t, 128+3*24, size, "128 bytes of headers, then 3 slots of stride 24")
	assert.Equal(t, []int{3, 0}, values, "EMPTY = slots, FULL = 0")
}

func TestFormatRefuses(t *testing.T) {
	seg := make([]uint64, 1024)
	b := unsafeBytes(seg)
	tests := []struct {
		slots, slotSize int
		want            string
	}{
		{0, 8, "0 slots: need 1 to 32767"},
		{32768, 8, "32768 slots: need 1 to 32767 (a semaphore's maximum value, SEMVMX)"},
		{2, 0, "slot size 0: need at least 1 byte"},
		{100, 100, "segment of 8192 bytes is too small for 100 slots of 100 bytes (11328)"},
	}
	for _, tt := range tests {
		assert.ErrorContains(t, Format(b, tt.slots, tt.slotSize), tt.want)
	}
}

// TestSlotBytes sends one message longer than a slot, with nobody receiving yet,
// and reads the ring's header and slots byte by byte at the documented offsets;
// then receives it in this process.
func TestSlotBytes(t *testing.T) {
	ipctest.NoLeaks(t)
	r := newRing(t, 4, 10) // stride 24
	assert.Equal(t, []uint32{4, 10, 24}, []uint32{le.Uint32(r.seg[64:]), le.Uint32(r.seg[68:]), le.Uint32(r.seg[72:])},
		"slots, slot size, stride at 64, 68, 72")
	assert.Equal(t, "4 slots of 10 bytes (stride 24) from offset 128", Describe(r.seg))

	s, err := NewSender(r.seg, r.set)
	require.NoError(t, err)
	msg := []byte("abcdefghijklmnopqrstuvwxy") // 25 bytes: 10 + 10 + 5
	require.NoError(t, s.Send(msg))

	slots := []struct {
		length, flags uint32
		payload       string
	}{{10, More, "abcdefghij"}, {10, More, "klmnopqrst"}, {5, 0, "uvwxy"}}
	for i, want := range slots {
		off := 128 + i*24
		assert.Equal(t, want.length, le.Uint32(r.seg[off:]), "slot %d length at %d", i, off)
		assert.Equal(t, want.flags, le.Uint32(r.seg[off+4:]), "slot %d flags at %d", i, off+4)
		assert.Equal(t, want.payload, string(r.seg[off+8:off+8+int(want.length)]), "slot %d payload at %d", i, off+8)
	}
	assert.Equal(t, uint64(3), le.Uint64(r.seg[80:]), "sent at 80")
	assert.Equal(t, uint64(0), le.Uint64(r.seg[88:]), "received at 88")
	assert.Equal(t, 1, r.value(t, Empty), "EMPTY: 4 slots - 3 filled")
	assert.Equal(t, 3, r.value(t, Full), "FULL: 3 filled")

	// A buffer too small: the message stays whole in the ring, for a larger one.
	c, err := NewReceiver(r.seg, r.set)
	require.NoError(t, err)
	n, err := c.Receive(make([]byte, 24))
	assert.ErrorIs(t, err, io.ErrShortBuffer, "a 25-byte message does not fit in 24 bytes")
	assert.Zero(t, n)
	assert.Equal(t, uint64(0), le.Uint64(r.seg[88:]), "received: nothing freed")
	assert.Equal(t, []int{1, 3}, []int{r.value(t, Empty), r.value(t, Full)}, "EMPTY and FULL as before")
	buf := make([]byte, 100)
	n, err = c.Receive(buf)
	require.NoError(t, err)
	assert.Equal(t, string(msg), string(buf[:n]))
	assert.Equal(t, uint64(3), le.Uint64(r.seg[88:]), "received at 88")
	assert.Equal(t, []int{4, 0}, []int{r.value(t, Empty), r.value(t, Full)}, "every slot free again")

	// The stream goes on: the next message, and the end.
	require.NoError(t, s.Send([]byte("next")))
	n, err = c.Receive(buf)
	require.NoError(t, err)
	assert.Equal(t, "next", string(buf[:n]))
}

// TestShortBufferForAMessageLongerThanTheRing: a message longer than the whole ring
// streams through it, so the consumer must free its first slots before it knows
// the message's length. One that then does not fit the buffer is dropped, the
// error says so, and the stream goes on with the next message.
func TestShortBufferForAMessageLongerThanTheRing(t *testing.T) {
	ipctest.NoLeaks(t)
	r := newRing(t, 2, 8) // 16 bytes of ring
	s, err := NewSender(r.seg, r.set)
	require.NoError(t, err)
	c, err := NewReceiver(r.seg, r.set)
	require.NoError(t, err)
	sent := make(chan error, 1)
	go func() {
		err := s.Send(bytes.Repeat([]byte("x"), 40)) // 5 slots
		if err == nil {
			err = s.Send([]byte("after"))
		}
		sent <- err
	}()
	_, err = c.Receive(make([]byte, 20)) // larger than the ring, smaller than the message
	assert.EqualError(t, err, "semring: a 40-byte message does not fit the 20-byte buffer; it was longer than the ring, so its first slots had been freed before its length was known, and it was dropped: short buffer")
	assert.ErrorIs(t, err, io.ErrShortBuffer)
	buf := make([]byte, 20)
	n, err := c.Receive(buf)
	require.NoError(t, err)
	assert.Equal(t, "after", string(buf[:n]), "the next message, whole")
	require.NoError(t, <-sent)
}

// TestMaximumSlots: 32767 slots, the most a semaphore can count (SEMVMX), work: the
// set is created with EMPTY at 32767, and the producer's Close takes all 32767 at
// once.
func TestMaximumSlots(t *testing.T) {
	ipctest.NoLeaks(t)
	r := newRing(t, 32767, 1)
	assert.Equal(t, []int{32767, 0}, []int{r.value(t, Empty), r.value(t, Full)})
	s, err := NewSender(r.seg, r.set)
	require.NoError(t, err)
	c, err := NewReceiver(r.seg, r.set)
	require.NoError(t, err)
	for _, m := range []string{"a", "bc", "def"} {
		require.NoError(t, s.Send([]byte(m)))
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	buf := make([]byte, 8)
	for _, want := range []string{"a", "bc", "def"} {
		n, err := c.Receive(buf)
		require.NoError(t, err)
		assert.Equal(t, want, string(buf[:n]))
	}
	_, err = c.Receive(buf)
	assert.Equal(t, io.EOF, err)
	assert.NoError(t, <-closed)
	assert.Equal(t, 0, r.value(t, Empty), "Close took all 32767 units of EMPTY in one semop")
	assert.Error(t, Format(r.seg, 32768, 1), "32768 slots: more than EMPTY can count")
}

// message i of a stream whose messages are at most max bytes: its length cycles
// through 0..max, its bytes depend on i, so a lost, repeated, reordered or torn
// message is seen.
func message(i, max int) []byte {
	m := make([]byte, i%(max+1))
	for k := range m {
		m[k] = byte(i*31 + k)
	}
	return m
}

// TestStreamToAnotherProcess: a consumer process receives a stream from this one
// and checks every message: through a ring that wraps around many times, with
// messages longer than a slot and than the whole ring, and empty ones; then the
// end-of-stream marker.
func TestStreamToAnotherProcess(t *testing.T) {
	tests := []struct {
		name            string
		slots, slotSize int
		count, max      int
	}{
		{"wraps around", 3, 16, 3000, 16},
		{"one slot", 1, 8, 500, 8},
		{"larger than a slot and than the ring", 2, 16, 300, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			r := newRing(t, tt.slots, tt.slotSize)
			p := ipctest.StartHelper(t, "consume", append(r.ids(), strconv.Itoa(tt.count), strconv.Itoa(tt.max))...)
			require.NoError(t, header.Of(r.seg).Claim(header.Producer))
			s, err := NewSender(r.seg, r.set)
			require.NoError(t, err)
			slotsUsed := 0
			for i := 0; i < tt.count; i++ {
				m := message(i, tt.max)
				require.NoError(t, s.Send(m), "message %d", i)
				slotsUsed += max(1, (len(m)+tt.slotSize-1)/tt.slotSize)
			}
			require.NoError(t, s.Close(), "Close returns once the consumer has taken the end marker")
			res := p.Wait(t)
			require.Equal(t, 0, res.ExitCode, "consumer: %s", res.Stderr)
			assert.Equal(t, fmt.Sprintf("received %d messages, then end of stream\n", tt.count), res.Stdout)
			assert.Greater(t, slotsUsed, 2*tt.slots, "the ring wrapped around")
			assert.Equal(t, uint64(slotsUsed+1), le.Uint64(r.seg[80:]), "sent: every slot and the end marker")
			assert.Equal(t, uint64(slotsUsed+1), le.Uint64(r.seg[88:]), "received: the same")
			assert.Equal(t, uint32(1), le.Uint32(r.seg[76:]), "done: the consumer took the end marker")
		})
	}
}

// helperConsume: consume SHMID SEMID COUNT MAX. It receives until the end of the
// stream, checking that message i is message(i, MAX).
func helperConsume(args []string) int {
	seg, set, err := attachArgs(args)
	if err != nil {
		return fail(err)
	}
	count, _ := strconv.Atoi(args[2])
	maxLen, _ := strconv.Atoi(args[3])
	if err := header.Of(seg).Claim(header.Consumer); err != nil {
		return fail(err)
	}
	c, err := NewReceiver(seg, set)
	if err != nil {
		return fail(err)
	}
	buf := make([]byte, maxLen)
	for i := 0; ; i++ {
		n, err := c.Receive(buf)
		if errors.Is(err, io.EOF) {
			if i != count {
				return fail(fmt.Errorf("end of stream after %d messages, want %d", i, count))
			}
			fmt.Printf("received %d messages, then end of stream\n", i)
			return 0
		}
		if err != nil {
			return fail(fmt.Errorf("message %d: %w", i, err))
		}
		if want := message(i, maxLen); !bytes.Equal(buf[:n], want) {
			return fail(fmt.Errorf("message %d: got %d bytes % x, want %d bytes % x", i, n, buf[:n], len(want), want))
		}
	}
}

// TestPeerDies: this process waits on the ring (the producer on a full ring, the
// consumer on an empty one); the other process, which holds the peer role, is
// killed with SIGKILL. The wait ends with a *header.PeerGoneError within a few
// polls.
func TestPeerDies(t *testing.T) {
	for _, me := range []header.Role{header.Producer, header.Consumer} {
		t.Run(me.String()+" waits", func(t *testing.T) {
			ipctest.NoLeaks(t)
			r := newRing(t, 2, 8)
			p := ipctest.StartHelper(t, "stall", append(r.ids(), me.Peer().String())...)
			p.Expect(t, "claimed", 10*time.Second)
			require.NoError(t, header.Of(r.seg).Claim(me))
			errc := make(chan error, 1)
			go func() { errc <- block(r, me) }()
			select {
			case err := <-errc:
				t.Fatalf("returned before the peer died: %v", err)
			case <-time.After(3 * Poll):
			}
			p.Signal(t, syscall.SIGKILL)
			killed := time.Now()
			p.Wait(t)
			err := waitErr(t, r, errc, "the peer's death was not noticed within 2 s")
			t.Logf("noticed after %v: %v", time.Since(killed), err)
			var gone *header.PeerGoneError
			require.ErrorAs(t, err, &gone)
			assert.Equal(t, header.PeerGoneError{Role: me.Peer(), Pid: p.Pid(), How: "no such process"}, *gone)
		})
	}
}

// block sends into a ring nobody empties, or receives from one nobody fills.
func block(r ring, me header.Role) error {
	if me == header.Producer {
		s, err := NewSender(r.seg, r.set)
		if err != nil {
			return err
		}
		for {
			if err := s.Send([]byte("12345678")); err != nil {
				return err
			}
		}
	}
	c, err := NewReceiver(r.seg, r.set)
	if err != nil {
		return err
	}
	_, err = c.Receive(make([]byte, 8))
	return err
}

// waitErr waits up to 2 s for the blocked side's error. If it does not come, the
// test fails, but only after the set is removed and the blocked side has returned:
// it must not touch the segment after the test's cleanup has detached it.
func waitErr(t *testing.T, r ring, errc <-chan error, msg string) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(2 * time.Second):
		_ = r.set.Remove()
		t.Fatalf("%s (then: %v)", msg, <-errc)
		return nil
	}
}

// helperStall: stall SHMID SEMID ROLE. It claims ROLE, prints "claimed" and does
// nothing more until its stdin closes or it is killed.
func helperStall(args []string) int {
	seg, _, err := attachArgs(args)
	if err != nil {
		return fail(err)
	}
	role := map[string]header.Role{"producer": header.Producer, "consumer": header.Consumer}[args[2]]
	if err := header.Of(seg).Claim(role); err != nil {
		return fail(err)
	}
	fmt.Println("claimed")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return 0
}

// TestSetRemovedWhileWaiting: removing the semaphore set (what a peer's cleanup
// does) ends a waiting side's wait, reported as the peer gone and matching
// sem.ErrRemoved, whichever errno the kernel gives: EIDRM if the removal comes
// while the side sleeps in semtimedop, EINVAL if it comes between two of its
// timed waits (the id names no set when it calls again).
func TestSetRemovedWhileWaiting(t *testing.T) {
	tests := []struct {
		name  string
		errno unix.Errno
		// remove removes the set: while the consumer sleeps on FULL, or before it
		// starts (start closes when it may).
		remove func(t *testing.T, r ring, start chan<- struct{})
	}{
		{"while it sleeps", unix.EIDRM, func(t *testing.T, r ring, start chan<- struct{}) {
			close(start)
			require.Eventually(t, func() bool {
				n, err := r.set.Waiting(Full)
				return err == nil && n == 1
			}, 5*time.Second, time.Millisecond, "the consumer never went to sleep on FULL")
			require.NoError(t, r.set.Remove())
		}},
		{"between two waits", unix.EINVAL, func(t *testing.T, r ring, start chan<- struct{}) {
			require.NoError(t, r.set.Remove())
			close(start)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			// One wait for the whole test: the sleep that the removal interrupts
			// must not time out first (which would make it the other case).
			defer func(p time.Duration) { Poll = p }(Poll)
			Poll = time.Hour
			r := newRing(t, 2, 8)
			errc := make(chan error, 1)
			start := make(chan struct{})
			go func() { <-start; errc <- block(r, header.Consumer) }()
			tt.remove(t, r, start)
			err := waitErr(t, r, errc, "the removal did not end the consumer's wait within 2 s")
			var gone *header.PeerGoneError
			require.ErrorAs(t, err, &gone)
			assert.Equal(t, header.Producer, gone.Role)
			assert.Equal(t, "the semaphore set was removed under us", gone.How)
			assert.ErrorIs(t, err, tt.errno, "the kernel's errno")
			assert.ErrorIs(t, err, sem.ErrRemoved, "a removed set, not a dead process")
		})
	}
}

// unsafeBytes is the memory of w as bytes: 8-byte aligned, like a segment.
func unsafeBytes(w []uint64) []byte { return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), 8*len(w)) }

func attachArgs(args []string) ([]byte, *sem.Set, error) {
	shmid, _ := strconv.Atoi(args[0])
	semid, _ := strconv.Atoi(args[1])
	seg, err := unix.SysvShmAttach(shmid, 0, 0)
	return seg, sem.FromID(semid), err
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// TestEndOfStreamIsNotAnError: the consumer stores done, then posts EMPTY; a
// producer that sees done may finish and remove the set before that post. The
// post then fails (EINVAL), and the consumer must still report the end of the
// stream. And a producer whose consumer set done, then died without posting,
// finishes its Close without an error.
func TestEndOfStreamIsNotAnError(t *testing.T) {
	t.Run("the consumer's post after done", func(t *testing.T) {
		ipctest.NoLeaks(t)
		r := newRing(t, 2, 8)
		s, err := NewSender(r.seg, r.set)
		require.NoError(t, err)
		c, err := NewReceiver(r.seg, r.set)
		require.NoError(t, err)
		require.NoError(t, s.put(nil, End))
		afterDone = func() { require.NoError(t, r.set.Remove()) }
		defer func() { afterDone = nil }()
		_, err = c.Receive(nil)
		assert.Equal(t, io.EOF, err)
	})
	t.Run("a consumer that set done and died", func(t *testing.T) {
		ipctest.NoLeaks(t)
		r := newRing(t, 2, 8)
		p := ipctest.StartHelper(t, "stall", append(r.ids(), "consumer")...)
		p.Expect(t, "claimed", 10*time.Second)
		s, err := NewSender(r.seg, r.set)
		require.NoError(t, err)
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		require.NoError(t, r.set.WaitTimeout(Full, false, 5*time.Second), "the end marker")
		atomic.StoreUint32((*uint32)(unsafe.Pointer(&r.seg[76])), 1) // done, and no post: it dies first
		p.Signal(t, syscall.SIGKILL)
		p.Wait(t)
		select {
		case err := <-closed:
			assert.NoError(t, err, "the consumer took the end marker before it died")
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not return")
		}
	})
}
