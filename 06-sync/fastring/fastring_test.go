//go:build linux

package fastring

import (
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/06-sync/header"
	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/sem"
)

func TestMain(m *testing.M) {
	ipctest.Helper("produce", helperProduce)
	ipctest.Helper("consume", helperConsume)
	ipctest.Helper("echo", helperEcho)
	ipctest.Helper("sink", helperSink)
	ipctest.Helper("exit", func([]string) int { return 0 })
	ipctest.Alongside() // private segments and sets only
	ipctest.Main(m, nil)
}

// ring is a formatted ring made by a test: what the program does in 06-sync,
// reduced to what the tests need.
type ring struct {
	shmid int
	set   *sem.Set
	seg   []byte
}

// newRing creates a segment and a semaphore set laid out for a fast ring of the
// given capacity, both removed when the test ends.
func newRing(t testing.TB, capacity int) ring {
	t.Helper()
	size, values := Layout(capacity)
	id := ipctest.NewSegment(t, size, 0o600)
	seg := ipctest.Attach(t, id, 0)
	set, err := sem.Create(ftok.Private, 0o600, values...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = set.Remove() })
	hdr := header.Of(seg)
	hdr.Format(header.KindFast, KindVersion, size)
	require.NoError(t, Format(seg, capacity))
	hdr.Publish()
	return ring{shmid: id, set: set, seg: seg}
}

// newEnds is a ring with both its ends in this process (the ring does not care).
func newEnds(t *testing.T, capacity int) (ring, *Sender, *Receiver) {
	t.Helper()
	r := newRing(t, capacity)
	s, err := NewSender(r.seg, r.set)
	require.NoError(t, err)
	c, err := NewReceiver(r.seg, r.set)
	require.NoError(t, err)
	return r, s, c
}

// ids is how a helper process finds the ring.
func (r ring) ids() []string {
	return []string{"-shm", strconv.Itoa(r.shmid), "-sem", strconv.Itoa(r.set.ID())}
}

// plan is what a producer sends and a consumer expects: both compute the same
// sequence of sizes and contents from the seed.
type plan struct {
	count  int    // messages; 0 means forever
	sizes  string // "mixed", "tiny" or a number of bytes
	seed   uint64
	spin   time.Duration
	poll   time.Duration
	window time.Duration // widen the lost-wake-up window (beforeFlag) by sleeping this long
	broken bool          // noRecheck: the protocol that loses wake-ups
	shmid  int
	semid  int
}

func (p plan) args() []string {
	return []string{"-count", strconv.Itoa(p.count), "-sizes", p.sizes, "-seed", strconv.FormatUint(p.seed, 10),
		"-spin", p.spin.String(), "-poll", p.poll.String(), "-window", p.window.String(),
		"-broken=" + strconv.FormatBool(p.broken)}
}

func parsePlan(args []string) (plan, error) {
	var p plan
	fs := flag.NewFlagSet("helper", flag.ContinueOnError)
	fs.IntVar(&p.count, "count", 1000, "")
	fs.StringVar(&p.sizes, "sizes", "mixed", "")
	fs.Uint64Var(&p.seed, "seed", 1, "")
	fs.DurationVar(&p.spin, "spin", Spin, "")
	fs.DurationVar(&p.poll, "poll", Poll, "")
	fs.DurationVar(&p.window, "window", 0, "")
	fs.BoolVar(&p.broken, "broken", false, "")
	fs.IntVar(&p.shmid, "shm", -1, "")
	fs.IntVar(&p.semid, "sem", -1, "")
	err := fs.Parse(args)
	Spin, Poll, noRecheck = p.spin, p.poll, p.broken
	if p.window > 0 {
		beforeFlag = func() { busy(p.window) }
	}
	return p, err
}

// busy spins for d without sleeping, so that the pause is d, not a timer tick.
func busy(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

// mixedSizes has every case the record format must get right, for a 4 KiB ring:
// empty, around the 8-byte padding, around the ring's capacity (a record of
// capacity-8 payload bytes fills it exactly), several times larger, and 1 MiB.
var mixedSizes = []int{0, 1, 7, 8, 9, 15, 16, 63, 64, 65, 100, 1000, 2048, 4088, 4089, 4096, 4097, 10000, 3*4096 + 5}

// size returns the size of message seq; rng gives the same sequence on both sides.
func (p plan) size(rng *rand.Rand, seq int) int {
	switch p.sizes {
	case "mixed":
		n := mixedSizes[rng.IntN(len(mixedSizes))]
		if seq%250 == 1 {
			n = 1 << 20 // every 250th message is 1 MiB
		}
		return n
	case "tiny":
		return rng.IntN(41) // 0..40 bytes: one or two records fill a 64-byte ring
	}
	n, _ := strconv.Atoi(p.sizes)
	return n
}

// fill writes message seq's content: its sequence number, then bytes that depend
// on it, so a lost, repeated or reordered message cannot go unnoticed.
func fill(b []byte, seq uint64) {
	for i := range b {
		b[i] = byte(seq>>(8*(i%8))) ^ byte(i*131)
	}
}

func attachHelper(p plan, role header.Role) ([]byte, *sem.Set, error) {
	seg, err := unix.SysvShmAttach(p.shmid, 0, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("shmat(%d): %w", p.shmid, err)
	}
	if err := header.Of(seg).Claim(role); err != nil {
		return nil, nil, err
	}
	return seg, sem.FromID(p.semid), nil
}

func helperProduce(args []string) int {
	p, err := parsePlan(args)
	if err != nil {
		return fail(err)
	}
	seg, set, err := attachHelper(p, header.Producer)
	if err != nil {
		return fail(err)
	}
	s, err := NewSender(seg, set)
	if err != nil {
		return fail(err)
	}
	rng := rand.New(rand.NewPCG(p.seed, 0))
	sum := fnv.New64a()
	buf := make([]byte, 1<<20)
	var bytes int
	for seq := 0; p.count == 0 || seq < p.count; seq++ {
		msg := buf[:p.size(rng, seq)]
		fill(msg, uint64(seq))
		if err := s.Send(msg); err != nil {
			return fail(fmt.Errorf("message %d: %w", seq, err))
		}
		sum.Write(msg)
		bytes += len(msg)
		if seq == 1000 {
			fmt.Println("running")
		}
	}
	if err := s.Close(); err != nil {
		return fail(err)
	}
	st := s.Stats()
	fmt.Printf("sent %d messages %d bytes checksum %016x sleeps %d timeouts %d posts %d\n", p.count, bytes, sum.Sum64(), st.Sleeps, st.Timeouts, st.Posts)
	return 0
}

func helperConsume(args []string) int {
	p, err := parsePlan(args)
	if err != nil {
		return fail(err)
	}
	seg, set, err := attachHelper(p, header.Consumer)
	if err != nil {
		return fail(err)
	}
	r, err := NewReceiver(seg, set)
	if err != nil {
		return fail(err)
	}
	rng := rand.New(rand.NewPCG(p.seed, 0))
	sum := fnv.New64a()
	buf := make([]byte, 1<<20)
	want := make([]byte, 1<<20)
	var bytes, seq int
	for ; ; seq++ {
		n, err := r.Receive(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(fmt.Errorf("message %d: %w", seq, err))
		}
		w := want[:p.size(rng, seq)]
		fill(w, uint64(seq))
		if n != len(w) || string(buf[:n]) != string(w) {
			return fail(fmt.Errorf("message %d: got %d bytes, want %d, or different content: out of order or corrupt", seq, n, len(w)))
		}
		sum.Write(buf[:n])
		bytes += n
		if seq == 1000 {
			fmt.Println("running")
		}
	}
	st := r.Stats()
	fmt.Printf("received %d messages %d bytes checksum %016x sleeps %d timeouts %d posts %d\n", seq, bytes, sum.Sum64(), st.Sleeps, st.Timeouts, st.Posts)
	return 0
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// summary is a helper's last line, parsed.
type summary struct {
	verb                    string
	messages, bytes         int
	checksum                string
	sleeps, timeouts, posts int
}

func parseSummary(t *testing.T, r ipctest.Result) summary {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	var s summary
	_, err := fmt.Sscanf(lines[len(lines)-1], "%s %d messages %d bytes checksum %s sleeps %d timeouts %d posts %d",
		&s.verb, &s.messages, &s.bytes, &s.checksum, &s.sleeps, &s.timeouts, &s.posts)
	require.NoError(t, err, "summary line of %q\nstderr: %s", r.Stdout, r.Stderr)
	return s
}

// run starts a producer and a consumer for plan on r, in the given order, and
// returns their summaries once both have finished, or fails after limit.
func run(t *testing.T, r ring, p plan, consumerFirst bool, limit time.Duration) (prod, cons summary) {
	t.Helper()
	args := append(r.ids(), p.args()...)
	var pp, cp *ipctest.Proc
	if consumerFirst {
		cp = ipctest.StartHelper(t, "consume", args...)
		pp = ipctest.StartHelper(t, "produce", args...)
	} else {
		pp = ipctest.StartHelper(t, "produce", args...)
		cp = ipctest.StartHelper(t, "consume", args...)
	}
	deadline := time.After(limit)
	for _, proc := range []*ipctest.Proc{pp, cp} {
		select {
		case <-proc.Done():
		case <-deadline:
			t.Fatalf("not finished within %v: a wake-up was lost or the ring is stuck\nproducer: %s%s\nconsumer: %s%s",
				limit, pp.Stdout(), pp.Stderr(), cp.Stdout(), cp.Stderr())
		}
	}
	pr, cr := pp.Wait(t), cp.Wait(t)
	require.Equal(t, 0, pr.ExitCode, "producer: %s", pr.Stderr)
	require.Equal(t, 0, cr.ExitCode, "consumer: %s", cr.Stderr)
	return parseSummary(t, pr), parseSummary(t, cr)
}

func TestOrderAndChecksumMixedSizes(t *testing.T) {
	tests := []struct {
		name          string
		capacity      int
		consumerFirst bool
	}{
		{"consumer first", 4096, true},
		{"producer first", 4096, false},
		// A ring larger than every message: each is published in one piece.
		{"4 MiB ring", 4 << 20, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			r := newRing(t, tt.capacity)
			p := plan{count: 3000, sizes: "mixed", seed: uint64(i + 1), spin: Spin, poll: Poll}
			prod, cons := run(t, r, p, tt.consumerFirst, 20*time.Second)
			assert.Equal(t, p.count, cons.messages, "messages received")
			assert.Equal(t, prod.bytes, cons.bytes, "bytes")
			assert.Equal(t, prod.checksum, cons.checksum, "checksum")
			assert.Greater(t, cons.bytes, p.count/250*(1<<20), "every 250th message is 1 MiB")
			t.Logf("producer slept %d times, consumer %d times, for %d messages", prod.sleeps, cons.sleeps, p.count)
		})
	}
}

// wakeupPlan makes both sides sleep as often as possible: a 64-byte ring holds one
// or two tiny messages, nobody spins, and each side pauses between its last look at
// the index and raising its flag, exactly where a wake-up gets lost. A sleep is
// never cut short by a timeout (Poll is an hour), so a lost wake-up stalls both sides.
func wakeupPlan(broken bool) plan {
	return plan{count: 20000, sizes: "tiny", seed: 7, poll: time.Hour, window: 5 * time.Microsecond, broken: broken}
}

// TestNoLostWakeup: with wakeupPlan every message is delivered, every sleep ends
// with a wake-up, and the time limit fails the test instead of hanging it.
func TestNoLostWakeup(t *testing.T) {
	ipctest.NoLeaks(t)
	r := newRing(t, 64)
	p := wakeupPlan(false)
	prod, cons := run(t, r, p, true, 15*time.Second)
	assert.Equal(t, prod.checksum, cons.checksum)
	assert.Equal(t, p.count, cons.messages)
	assert.Zero(t, prod.timeouts+cons.timeouts, "with a live peer every sleep must end by a wake-up")
	// The test means something only if both sides really slept, often. How often
	// depends on the scheduler: on a quiet machine about one message in ten ends in a
	// sleep; on a loaded one a side may run through many messages in one time slice
	// (seen: 137 sleeps in 20,000 with two CPU hogs running). 50 each still means the
	// sleep and wake-up path ran many times.
	const minSleeps = 50
	assert.GreaterOrEqual(t, prod.sleeps, minSleeps, "producer sleeps")
	assert.GreaterOrEqual(t, cons.sleeps, minSleeps, "consumer sleeps")
	t.Logf("%d messages: producer slept %d times, consumer %d times", p.count, prod.sleeps, cons.sleeps)
}

// TestLostWakeupTestCanFail runs wakeupPlan against a broken protocol, in which the
// sleeper does not look at the index again after raising its flag, and checks that
// it deadlocks: both sides asleep at once, which with a ring that is never empty and
// full at the same time only a lost wake-up can cause. TestNoLostWakeup would fail.
func TestLostWakeupTestCanFail(t *testing.T) {
	ipctest.NoLeaks(t)
	r := newRing(t, 64)
	args := append(r.ids(), wakeupPlan(true).args()...)
	cp := ipctest.StartHelper(t, "consume", args...)
	pp := ipctest.StartHelper(t, "produce", args...)
	bothAsleep := func() bool {
		c, err1 := r.set.Waiting(SemData)
		p, err2 := r.set.Waiting(SemSpace)
		return err1 == nil && err2 == nil && c == 1 && p == 1
	}
	deadlocked := func() bool { // asleep, and still asleep a while later
		if !bothAsleep() {
			return false
		}
		time.Sleep(100 * time.Millisecond)
		return bothAsleep()
	}
	assert.Eventually(t, deadlocked, 10*time.Second, 10*time.Millisecond,
		"the broken protocol never lost a wake-up: the lost-wake-up test could not catch it")
	pp.Signal(t, syscall.SIGKILL)
	cp.Signal(t, syscall.SIGKILL)
	pp.Wait(t)
	cp.Wait(t)
}

func TestPeerKilledIsNoticedWithin2s(t *testing.T) {
	tests := []struct {
		victim, survivor header.Role
	}{
		{header.Consumer, header.Producer},
		{header.Producer, header.Consumer},
	}
	for _, tt := range tests {
		t.Run("kill the "+tt.victim.String(), func(t *testing.T) {
			ipctest.NoLeaks(t)
			r := newRing(t, 4096)
			args := append(r.ids(), plan{count: 0, sizes: "100", seed: 1, spin: Spin, poll: Poll}.args()...)
			procs := map[header.Role]*ipctest.Proc{
				header.Consumer: ipctest.StartHelper(t, "consume", args...),
				header.Producer: ipctest.StartHelper(t, "produce", args...),
			}
			for _, proc := range procs {
				proc.Expect(t, "running", 10*time.Second)
			}
			victim, survivor := procs[tt.victim], procs[tt.survivor]
			victim.Signal(t, syscall.SIGKILL)
			killed := time.Now()
			select {
			case <-survivor.Done():
			case <-time.After(2 * time.Second):
				t.Fatalf("the %v did not notice the %v's death within 2 s", tt.survivor, tt.victim)
			}
			t.Logf("noticed after %v", time.Since(killed).Round(time.Millisecond))
			res := survivor.Wait(t)
			assert.Equal(t, 1, res.ExitCode)
			assert.Contains(t, res.Stderr, fmt.Sprintf("the %v (pid %d) is gone", tt.victim, victim.Pid()))
		})
	}
}

// TestRemovedSetWakesSleeper: removing the semaphore set wakes a consumer asleep on
// an empty ring with EIDRM, which it reports instead of sleeping on.
func TestRemovedSetWakesSleeper(t *testing.T) {
	ipctest.NoLeaks(t)
	r := newRing(t, 4096)
	cp := ipctest.StartHelper(t, "consume", append(r.ids(), plan{count: 1, sizes: "1", poll: time.Hour}.args()...)...)
	require.Eventually(t, func() bool {
		n, err := r.set.Waiting(SemData)
		return err == nil && n == 1
	}, 5*time.Second, time.Millisecond, "the consumer never went to sleep on semaphore 0")
	require.NoError(t, r.set.Remove())
	res := cp.Wait(t)
	assert.Equal(t, 1, res.ExitCode)
	assert.Contains(t, res.Stderr, "the semaphore set was removed")
}

// TestRemovedSetEndsTheWait: whichever errno the removal gives, EIDRM to a
// consumer asleep on the semaphore or EINVAL to one that calls semtimedop after
// it, the consumer reports its peer gone, an error that matches sem.ErrRemoved.
func TestRemovedSetEndsTheWait(t *testing.T) {
	tests := []struct {
		name   string
		errno  unix.Errno
		asleep bool // remove the set once the consumer sleeps; else before it starts
	}{
		{"while it sleeps", unix.EIDRM, true},
		{"before it sleeps", unix.EINVAL, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			defer func(p time.Duration) { Poll = p }(Poll)
			Poll = time.Hour // one sleep: the removal, not a timeout, must end it
			r, _, c := newEnds(t, 4096)
			if !tt.asleep {
				require.NoError(t, r.set.Remove())
			}
			errc := make(chan error, 1)
			go func() { _, err := c.Receive(make([]byte, 64)); errc <- err }()
			if tt.asleep {
				require.Eventually(t, func() bool {
					n, err := r.set.Waiting(SemData)
					return err == nil && n == 1
				}, 5*time.Second, time.Millisecond, "the consumer never went to sleep on semaphore 0")
				require.NoError(t, r.set.Remove())
			}
			var err error
			select {
			case err = <-errc:
			case <-time.After(5 * time.Second):
				t.Fatal("the removal did not end the wait") // the set is gone: the goroutine returns
			}
			var gone *header.PeerGoneError
			require.ErrorAs(t, err, &gone)
			assert.Equal(t, "the semaphore set was removed under us", gone.How)
			assert.ErrorIs(t, err, tt.errno, "the kernel's errno")
			assert.ErrorIs(t, err, sem.ErrRemoved)
		})
	}
}

func TestCapacity(t *testing.T) {
	tests := []struct{ ask, want int }{
		{0, 64}, {1, 64}, {64, 64}, {65, 128}, {4096, 4096}, {5000, 8192}, {1 << 40, MaxCapacity},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Capacity(tt.ask), "Capacity(%d)", tt.ask)
	}
	// Format refuses what it cannot give, rather than a smaller ring in silence
	// (before it looks at the segment: none of 1 GiB is needed to see that).
	assert.EqualError(t, Format(nil, MaxCapacity+1), "fastring: a data area of 1073741825 bytes: at most 1073741824 (1 GiB)")
}

func TestRecordSize(t *testing.T) {
	tests := []struct {
		payload int
		want    uint64
	}{
		{0, 8}, {1, 16}, {8, 16}, {9, 24}, {64, 72},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, recordSize(tt.payload), "recordSize(%d)", tt.payload)
	}
}

func TestInconsistentHeaderIsRefused(t *testing.T) {
	seg := make([]byte, DataOffset+4096)
	_, err := NewSender(seg, nil)
	assert.ErrorContains(t, err, "capacity 0", "an unformatted segment")
	require.NoError(t, Format(seg, 4096))
	_, err = NewReceiver(seg[:DataOffset+1024], nil)
	assert.ErrorContains(t, err, "inconsistent", "a capacity larger than the segment")
	assert.Error(t, Format(make([]byte, DataOffset+100), 4096), "Format into a segment too small")
}

// TestShortBufferLeavesMessage: in one process (the ring does not care), a buffer
// too small gets io.ErrShortBuffer and the message stays for a larger one.
func TestShortBufferLeavesMessage(t *testing.T) {
	ipctest.NoLeaks(t)
	_, s, c := newEnds(t, 256)
	require.NoError(t, s.Send([]byte("hello, ring")))
	_, err := c.Receive(make([]byte, 4))
	assert.ErrorIs(t, err, io.ErrShortBuffer)
	buf := make([]byte, 64)
	n, err := c.Receive(buf)
	require.NoError(t, err)
	assert.Equal(t, "hello, ring", string(buf[:n]))
}

func TestSendAfterClose(t *testing.T) {
	ipctest.NoLeaks(t)
	_, s, c := newEnds(t, 256)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	_, err := c.Receive(nil)
	assert.Equal(t, io.EOF, err)
	require.NoError(t, <-closed, "Close returns once the consumer has taken the marker")
	assert.True(t, errors.Is(s.Send(nil), ErrClosed))
	_, err = c.Receive(nil)
	assert.Equal(t, io.EOF, err, "after the end, Receive keeps returning io.EOF")
}

// TestHeadIsPublishedAfterEveryMessage: the space of a message the consumer has
// read is free for the producer at once, not later, so a consumer that then
// blocks elsewhere cannot hold back a producer that waits for space.
func TestHeadIsPublishedAfterEveryMessage(t *testing.T) {
	ipctest.NoLeaks(t)
	r, s, c := newEnds(t, 1024)
	buf := make([]byte, 100)
	for i := 1; i <= 3; i++ {
		require.NoError(t, s.Send(buf[:50])) // a record of 8 + 56 bytes
		require.NoError(t, s.Send(buf[:50]))
		_, err := c.Receive(buf)
		require.NoError(t, err)
		assert.Equal(t, uint64(64*(2*i-1)), atomic.LoadUint64(u64(r.seg, offHead)), "head after message %d", 2*i-1)
		_, err = c.Receive(buf)
		require.NoError(t, err)
		assert.Equal(t, uint64(64*2*i), atomic.LoadUint64(u64(r.seg, offHead)), "head after message %d", 2*i)
	}
}

// TestStoreThenLoadIsOrdered is the store-buffer litmus test, on a System V segment,
// for the protocol's stores that a load of the other side's field follows:
// publishIndex (raise is the same Swap on a 32-bit flag). Two threads run
//
//	thread 1: x = i; r1[i] = y        thread 2: y = i; r2[i] = x
//
// for i = 1, 2, .... If r1[i] = j, thread 1's load came before thread 2's store of
// j+1, so thread 2's load at j+1 came after thread 1's store of i and must see x >=
// i. r2[j+1] < i means a load overtook the store before it: the reordering that
// loses wake-ups. It never happens with the protocol's stores; with a plain
// atomic.Store it does in a -race build (logged, not asserted: how often depends on
// how the two threads overlap).
func TestStoreThenLoadIsOrdered(t *testing.T) {
	ipctest.NoLeaks(t)
	seg := ipctest.Attach(t, ipctest.NewSegment(t, 4096, 0o600), 0)
	x, y := u64(seg, offTail), u64(seg, offHead) // on lines of their own, like the protocol's
	n := *litmusN
	tests := []struct {
		name   string
		store  func(p *uint64, v uint64)
		strict bool
	}{
		{"publishIndex", publishIndex, true},
		{"atomic.StoreUint64, for comparison", atomic.StoreUint64, !raceEnabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := storeThenLoad(x, y, n, tt.store)
			if tt.strict {
				assert.Zero(t, seen, "a load overtook the store before it %d times in %d", seen, n)
			}
			t.Logf("%d of %d iterations: a load overtook the store before it (race detector on: %v)", seen, n, raceEnabled)
		})
	}
}

// litmusN is how many times TestStoreThenLoadIsOrdered runs the litmus test.
// Whether a plain Store's reordering shows in a -race build depends on how long the
// two threads run side by side; two million iterations showed it here:
//
//	go test -race -run TestStoreThenLoadIsOrdered -v ./06-sync/fastring/ -args -fastring.litmus 2000000
var litmusN = flag.Int("fastring.litmus", 200000, "iterations of the store-then-load litmus test")

// storeThenLoad runs the litmus test n times on x and y with store and atomic
// loads, and counts the reorderings.
func storeThenLoad(x, y *uint64, n int, store func(p *uint64, v uint64)) int {
	atomic.StoreUint64(x, 0)
	atomic.StoreUint64(y, 0)
	r1, r2 := make([]uint64, n+2), make([]uint64, n+2)
	var wg sync.WaitGroup
	var started atomic.Int32
	side := func(mine, theirs *uint64, r []uint64) {
		defer wg.Done()
		runtime.LockOSThread() // one thread each, for the whole run
		defer runtime.UnlockOSThread()
		started.Add(1)
		for started.Load() < 2 { // start together, so that the two loops overlap
		}
		for i := 1; i <= n; i++ {
			store(mine, uint64(i))
			r[i] = atomic.LoadUint64(theirs)
		}
	}
	wg.Add(2)
	go side(x, y, r1)
	go side(y, x, r2)
	wg.Wait()
	seen := 0
	for i := 1; i <= n; i++ {
		j1, j2 := r1[i], r2[i]
		if j1 < uint64(n) && r2[j1+1] < uint64(i) || j2 < uint64(n) && r1[j2+1] < uint64(i) {
			seen++
		}
	}
	return seen
}

// TestCloseAfterACompleteStream: the producer's Close sleeps, waiting for the
// consumer to take the end marker; the consumer takes it (stores head), exits and
// never posts (it died between the two, or its post was lost). At the timeout the
// producer must see the stream complete, not "the consumer is gone": it checks
// liveness first, then the condition.
func TestCloseAfterACompleteStream(t *testing.T) {
	ipctest.NoLeaks(t)
	defer func(spin, poll time.Duration) { Spin, Poll = spin, poll }(Spin, Poll)
	Spin, Poll = 0, 50*time.Millisecond
	r := newRing(t, 256)
	atomic.StoreUint32(u32(r.seg, header.OffConsumerPid), uint32(deadPid(t)))
	s, err := NewSender(r.seg, r.set)
	require.NoError(t, err)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	require.Eventually(t, func() bool {
		n, err := r.set.Waiting(SemSpace)
		return err == nil && n == 1
	}, 5*time.Second, time.Millisecond, "the producer never went to sleep in Close")
	atomic.StoreUint64(u64(r.seg, offHead), atomic.LoadUint64(u64(r.seg, offTail))) // took it all, posts nothing
	select {
	case err := <-closed:
		assert.NoError(t, err, "the consumer took everything before it went")
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
}

// deadPid returns the pid of a process that has exited and been reaped.
func deadPid(t *testing.T) int {
	t.Helper()
	p := ipctest.StartHelper(t, "exit")
	p.Wait(t)
	return p.Pid()
}

// TestLatePostAfterTheSetIsRemoved: a side that finished may remove the set while
// the other side's post to it is still on its way (the poster cleared the sleeper's
// flag, then was delayed past the sleeper's timeout). The post then fails with
// EINVAL: that must not turn a complete stream into an error, on either side.
func TestLatePostAfterTheSetIsRemoved(t *testing.T) {
	t.Run("the consumer's post after the end marker", func(t *testing.T) {
		ipctest.NoLeaks(t)
		r, s, c := newEnds(t, 256)
		require.NoError(t, s.record(nil, TagEnd))
		atomic.StoreUint32(u32(r.seg, offProducerWait), 1) // the producer is going to sleep: the consumer will post
		require.NoError(t, r.set.Remove())                 // ...but the producer saw head == tail first, and finished
		_, err := c.Receive(nil)
		assert.Equal(t, io.EOF, err)
	})
	t.Run("the producer's post of the end marker", func(t *testing.T) {
		ipctest.NoLeaks(t)
		defer func(spin time.Duration) { Spin = spin }(Spin)
		Spin = 10 * time.Second // the consumer spins, it never sleeps: it does not need the set
		r, s, c := newEnds(t, 256)
		received := make(chan error, 1)
		go func() { _, err := c.Receive(nil); received <- err }()
		atomic.StoreUint32(u32(r.seg, offConsumerWait), 1) // the consumer is going to sleep: the producer will post
		require.NoError(t, r.set.Remove())                 // ...but it saw the marker, took it and finished
		assert.NoError(t, s.Close())
		assert.Equal(t, io.EOF, <-received)
	})
}
