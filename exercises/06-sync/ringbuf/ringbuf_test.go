//go:build linux

package ringbuf

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/sem"
)

func TestMain(m *testing.M) {
	ipctest.Helper("produce", helperProduce)
	ipctest.Helper("consume", helperConsume)
	ipctest.Main(m, nil)
}

// shared is one ring as the test sees it: the segment, the test's own attachment
// of it, the semaphore set, and the ring on top of them.
type shared struct {
	shmID int
	mem   []byte
	set   *sem.Set
	ring  *Ring
}

// newShared creates a segment and a semaphore set (Slots, 0, 1) for one test and
// removes both when it ends. Removing the set also wakes any call still blocked
// in it (EIDRM), so a deadlocked Put or Get cannot outlive the test.
func newShared(t *testing.T) *shared {
	t.Helper()
	s := &shared{shmID: ipctest.NewSegment(t, Size, 0o600)}
	s.mem = ipctest.Attach(t, s.shmID, 0)
	set, err := sem.Create(ftok.Private, 0o600, Slots, 0, 1)
	require.NoError(t, err)
	t.Cleanup(func() { _ = set.Remove() })
	s.set = set
	s.ring, err = New(s.mem, set)
	require.NoError(t, err)
	return s
}

func (s *shared) word(off int) uint64 { return binary.LittleEndian.Uint64(s.mem[off:]) }

// checkAtRest checks what must hold when nobody is inside Put or Get.
func (s *shared) checkAtRest(t *testing.T, put, got int) {
	t.Helper()
	var v []int
	for _, num := range []int{Empty, Full, Mutex} {
		x, err := s.set.Value(num)
		require.NoError(t, err)
		v = append(v, x)
	}
	assert.Equal(t, []int{Slots - (put - got), put - got, 1}, v,
		"semaphores [Empty Full Mutex] after %d Puts and %d Gets: Empty counts free slots, Full filled ones, and Mutex must be released (1)", put, got)
	assert.Equal(t, uint64(put), s.word(HeadOffset), "head (offset %d) must count every message put", HeadOffset)
	assert.Equal(t, uint64(got), s.word(TailOffset), "tail (offset %d) must count every message taken", TailOffset)
}

// within runs fn and fails the test if it does not return within d.
func within[T any](t *testing.T, d time.Duration, what string, fn func() (T, error)) T {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("%s panicked: %v", what, p)}
			}
		}()
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		require.NoError(t, r.err, what)
		return r.v
	case <-time.After(d):
		t.Fatalf("%s did not return within %v: a deadlock (a wait nobody will post, or the mutex never released)", what, d)
		var zero T
		return zero
	}
}

// recoverInto, deferred in a goroutine that calls Put or Get, turns a panic into
// an error on errs: a panic in a goroutine would otherwise kill the test binary
// before its cleanups remove the segment and the semaphore set.
func recoverInto(errs chan<- error, what string) {
	if p := recover(); p != nil {
		errs <- fmt.Errorf("%s panicked: %v", what, p)
	}
}

// callTimeout is how long one Put or Get may take before the test calls it a
// deadlock. Correct calls take microseconds.
const callTimeout = 2 * time.Second

func put(t *testing.T, r *Ring, v uint64) {
	t.Helper()
	within(t, callTimeout, fmt.Sprintf("Put(%d)", v), func() (struct{}, error) { return struct{}{}, r.Put(v) })
}

func get(t *testing.T, r *Ring) uint64 {
	t.Helper()
	return within(t, callTimeout, "Get()", r.Get)
}

func TestFIFO(t *testing.T) {
	tests := []struct {
		name   string
		rounds int // each round puts batch messages, then gets them
		batch  int
	}{
		{"one message", 1, 1},
		{"three messages", 1, 3},
		{"a full ring", 1, Slots},
		{"wrapping around", 5, Slots - 3},
	}
	for _, tt := range tests {
		ok := t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			s := newShared(t)
			next, want := uint64(1000), uint64(1000)
			for round := 0; round < tt.rounds; round++ {
				for i := 0; i < tt.batch; i++ {
					put(t, s.ring, next)
					next++
				}
				for i := 0; i < tt.batch; i++ {
					got := get(t, s.ring)
					require.Equal(t, want, got,
						"round %d, Get number %d: messages must come out in the order they went in (read slot tail %% Slots, then advance tail)", round+1, i+1)
					want++
				}
			}
			s.checkAtRest(t, tt.rounds*tt.batch, tt.rounds*tt.batch)
		})
		if !ok {
			break // fix the simplest failing case first
		}
	}
}

// sleepers waits until a caller sleeps on semaphore num (semctl GETNCNT), or
// done is closed.
func sleepers(t *testing.T, s *shared, num int, done <-chan struct{}) bool {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		n, err := s.set.Waiting(num)
		require.NoError(t, err)
		if n > 0 {
			return true
		}
		select {
		case <-done:
			return false
		case <-time.After(time.Millisecond):
		}
	}
	return false
}

func TestGetWaitsWhileEmpty(t *testing.T) {
	ipctest.NoLeaks(t)
	s := newShared(t)
	got := make(chan uint64, 1)
	errs := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer recoverInto(errs, "Get()")
		v, err := s.ring.Get()
		got <- v
		errs <- err
	}()
	if !sleepers(t, s, Full, done) {
		t.Fatalf("Get on an empty ring did not sleep on semaphore Full (returned %v): it must wait for a message", <-errs)
	}
	put(t, s.ring, 42)
	select {
	case <-done:
		require.NoError(t, <-errs)
		assert.Equal(t, uint64(42), <-got, "the sleeping Get must receive the message put after it")
	case <-time.After(callTimeout):
		t.Fatalf("Get did not wake within %v of a Put: does Put post Full?", callTimeout)
	}
	s.checkAtRest(t, 1, 1)
}

func TestPutWaitsWhileFull(t *testing.T) {
	ipctest.NoLeaks(t)
	s := newShared(t)
	for i := 0; i < Slots; i++ {
		put(t, s.ring, uint64(i))
	}
	errs := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer recoverInto(errs, "Put(99)")
		errs <- s.ring.Put(99)
	}()
	if !sleepers(t, s, Empty, done) {
		t.Fatalf("Put on a full ring (%d messages) did not sleep on semaphore Empty (returned %v): it would overwrite the oldest message", Slots, <-errs)
	}
	assert.Equal(t, uint64(0), get(t, s.ring), "the oldest message")
	select {
	case <-done:
		require.NoError(t, <-errs)
	case <-time.After(callTimeout):
		t.Fatalf("Put did not wake within %v of a Get freeing a slot: does Get post Empty?", callTimeout)
	}
	for i := 1; i < Slots; i++ {
		assert.Equal(t, uint64(i), get(t, s.ring))
	}
	assert.Equal(t, uint64(99), get(t, s.ring), "the message that waited for a free slot comes last")
	s.checkAtRest(t, Slots+1, Slots+1)
}

// helperProduce attaches segment args[0] and set args[1] and puts args[3]
// messages, each producer<<32 | sequence number, with producer = args[2].
func helperProduce(args []string) int {
	shmID, _ := strconv.Atoi(args[0])
	semID, _ := strconv.Atoi(args[1])
	producer, _ := strconv.ParseUint(args[2], 10, 32)
	n, _ := strconv.Atoi(args[3])
	mem, err := unix.SysvShmAttach(shmID, 0, 0)
	if err != nil {
		fmt.Println("error: shmat:", err)
		return 1
	}
	defer unix.SysvShmDetach(mem)
	r, err := New(mem, sem.FromID(semID))
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	for seq := 0; seq < n; seq++ {
		if err := r.Put(producer<<32 | uint64(seq)); err != nil {
			fmt.Println("error:", err)
			return 1
		}
	}
	fmt.Println("produced", n)
	return 0
}

// tally checks a stream of messages from several producers: each producer's
// messages must arrive once each, in order.
type tally struct {
	next []uint64 // next sequence number expected from each producer
	sum  uint64
	bad  []string
}

func (c *tally) add(v uint64) {
	c.sum += v
	p, seq := v>>32, v&0xffffffff
	switch {
	case p >= uint64(len(c.next)):
		c.bad = append(c.bad, fmt.Sprintf("%#x is from no producer: a slot was read before it was written, or twice", v))
	case seq < c.next[p]:
		c.bad = append(c.bad, fmt.Sprintf("producer %d's message %d arrived again (after %d): a slot was read twice", p, seq, c.next[p]-1))
	case seq > c.next[p]:
		c.bad = append(c.bad, fmt.Sprintf("producer %d's message %d arrived when %d was due: messages were lost or overwritten", p, seq, c.next[p]))
		c.next[p] = seq + 1
	default:
		c.next[p]++
	}
}

// TestProducerProcessesAndConsumer is the stress run: producer processes put
// numbered messages through the ring at full speed while the test process
// consumes them. A missing or misplaced lock shows up as lost, repeated or
// reordered messages; one configuration may get lucky, several rarely all do.
func TestProducerProcessesAndConsumer(t *testing.T) {
	tests := []struct {
		producers, perProducer int
	}{
		{1, 5000},
		{2, 5000},
		{3, 4000},
		{4, 3000},
	}
	for _, tt := range tests {
		ok := t.Run(fmt.Sprintf("%d producers", tt.producers), func(t *testing.T) {
			ipctest.NoLeaks(t)
			stress(t, tt.producers, tt.perProducer)
		})
		if !ok {
			break // one failing configuration says it all; do not wait for the others
		}
	}
}

func stress(t *testing.T, producers, perProducer int) {
	s := newShared(t)
	var procs []*ipctest.Proc
	for p := 0; p < producers; p++ {
		procs = append(procs, ipctest.StartHelper(t, "produce",
			strconv.Itoa(s.shmID), strconv.Itoa(s.set.ID()), strconv.Itoa(p), strconv.Itoa(perProducer)))
	}

	// The test process is the consumer.
	c := &tally{next: make([]uint64, producers)}
	var want uint64
	for p := 0; p < producers; p++ {
		for seq := 0; seq < perProducer; seq++ {
			want += uint64(p)<<32 | uint64(seq)
		}
	}
	total := producers * perProducer
	got := make(chan uint64, 64)
	errs := make(chan error, 1)
	go func() {
		defer recoverInto(errs, "Get()")
		for i := 0; i < total; i++ {
			v, err := s.ring.Get()
			if err != nil {
				errs <- err
				return
			}
			got <- v
		}
		close(got)
	}()
	deadline := time.After(5 * time.Second) // a correct ring needs well under a second
	received := 0
consume:
	for {
		select {
		case v, ok := <-got:
			if !ok {
				break consume
			}
			c.add(v)
			received++
		case err := <-errs:
			t.Fatalf("Get failed after %d messages: %v", received, err)
		case <-deadline:
			var status []string
			for i, p := range procs {
				st := fmt.Sprintf("producer %d printed %q", i, strings.TrimSpace(p.Stdout()))
				if line, _, _ := strings.Cut(strings.TrimSpace(p.Stderr()), "\n"); line != "" {
					st += fmt.Sprintf(" and on stderr %q", line)
				}
				status = append(status, st)
			}
			t.Fatalf("the consumer got %d of %d messages within 5s (%s): a deadlock — a wait nobody posts, the mutex never released, "+
				"or posts of Full taken back by SEM_UNDO when a producer exited. Problems so far: %v",
				received, total, strings.Join(status, "; "), first(c.bad, 5))
		}
	}
	for i, p := range procs {
		r := p.Wait(t)
		assert.Equal(t, 0, r.ExitCode, "producer %d: %s%s", i, r.Stdout, r.Stderr)
	}
	assert.Empty(t, first(c.bad, 5), "with %d producer processes, every message must arrive exactly once and in its producer's order; "+
		"two Puts that read the same head write the same slot: hold Mutex while you read and advance head", producers)
	assert.Equal(t, want, c.sum, "the checksum (sum of all messages) must match what the producers sent")
	s.checkAtRest(t, total, total)
}

// helperConsume attaches segment args[0] and set args[1], gets args[2] messages
// and prints them.
func helperConsume(args []string) int {
	shmID, _ := strconv.Atoi(args[0])
	semID, _ := strconv.Atoi(args[1])
	n, _ := strconv.Atoi(args[2])
	mem, err := unix.SysvShmAttach(shmID, 0, 0)
	if err != nil {
		fmt.Println("error: shmat:", err)
		return 1
	}
	defer unix.SysvShmDetach(mem)
	r, err := New(mem, sem.FromID(semID))
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	var got []string
	for i := 0; i < n; i++ {
		v, err := r.Get()
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		got = append(got, strconv.FormatUint(v, 10))
	}
	fmt.Println("got", strings.Join(got, " "))
	return 0
}

// What one process did must stay done after it exits: the messages a producer
// put are still there for a consumer that comes later, and the slots a consumer
// freed stay free. SEM_UNDO on Empty or Full would take them back at exit.
func TestWorkOutlivesTheProcess(t *testing.T) {
	t.Run("producer exits before the consumer starts", func(t *testing.T) {
		ipctest.NoLeaks(t)
		s := newShared(t)
		r := finish(t, ipctest.StartHelper(t, "produce", strconv.Itoa(s.shmID), strconv.Itoa(s.set.ID()), "0", "5"))
		require.Equal(t, 0, r.ExitCode, "the producer process: %s%s", r.Stdout, r.Stderr)
		full, err := s.set.Value(Full)
		require.NoError(t, err)
		require.Equal(t, 5, full, "the producer put 5 messages and exited; Full must still say 5. "+
			"If it is lower, its posts of Full used SEM_UNDO and the kernel undid them when it exited: use undo for Mutex only")
		for seq := uint64(0); seq < 5; seq++ {
			assert.Equal(t, seq, get(t, s.ring), "the messages a process put before it exited")
		}
		s.checkAtRest(t, 5, 5)
	})
	t.Run("consumer exits, producer goes on", func(t *testing.T) {
		ipctest.NoLeaks(t)
		s := newShared(t)
		for i := 0; i < Slots; i++ {
			put(t, s.ring, uint64(i))
		}
		r := finish(t, ipctest.StartHelper(t, "consume", strconv.Itoa(s.shmID), strconv.Itoa(s.set.ID()), "3"))
		require.Equal(t, 0, r.ExitCode, "the consumer process: %s%s", r.Stdout, r.Stderr)
		assert.Equal(t, "got 0 1 2", strings.TrimSpace(r.Stdout), "the consumer process must get the oldest 3 messages")
		empty, err := s.set.Value(Empty)
		require.NoError(t, err)
		require.Equal(t, 3, empty, "the consumer freed 3 slots and exited; Empty must still say 3. "+
			"If it is lower, its posts of Empty used SEM_UNDO and the kernel undid them when it exited: use undo for Mutex only")
		for i := 0; i < 3; i++ {
			put(t, s.ring, uint64(Slots+i))
		}
		for i := 3; i < Slots+3; i++ {
			assert.Equal(t, uint64(i), get(t, s.ring))
		}
		s.checkAtRest(t, Slots+3, Slots+3)
	})
}

// finish waits for a helper process that should end quickly; if it is stuck, the
// test fails and its cleanup kills it.
func finish(t *testing.T, p *ipctest.Proc) ipctest.Result {
	t.Helper()
	select {
	case <-p.Done():
		return p.Wait(t)
	case <-time.After(callTimeout):
		t.Fatalf("the helper process did not finish within %v (a deadlock in Put or Get?); it printed %q %q", callTimeout, p.Stdout(), p.Stderr())
		return ipctest.Result{}
	}
}

func first(list []string, n int) []string {
	if len(list) > n {
		return append(list[:n:n], fmt.Sprintf("... and %d more", len(list)-n))
	}
	return list
}
