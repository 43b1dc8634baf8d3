//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/06-sync/fastring"
	"github.com/learn-sysv/shm-course/06-sync/header"
	"github.com/learn-sysv/shm-course/06-sync/semring"
	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/sem"
)

// useC makes the C programs that buildC builds last until t ends. Each top-level
// test that builds one calls it before t.Parallel: the top-level tests run one
// after another up to that call, so every C test holds the programs before any of
// them goes on, and each program is built once for all of them.
func useC(t *testing.T) {
	cBuilds.Lock()
	defer cBuilds.Unlock()
	cBuilds.users++
	t.Cleanup(func() {
		cBuilds.Lock()
		defer cBuilds.Unlock()
		if cBuilds.users--; cBuilds.users == 0 && cBuilds.dir != "" {
			_ = os.RemoveAll(cBuilds.dir)
			cBuilds.dir, cBuilds.built = "", nil
		}
	})
}

// buildC returns c/NAME.c compiled with gcc (and the extra flags, such as
// -DNAME=VALUE), or skips the test where there is no gcc. The test, or the
// top-level test it runs under, has called useC.
func buildC(t *testing.T, name string, flags ...string) string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found: skipping the C peer test (install gcc to run it: apt-get install gcc)")
	}
	b := cBuild(t, strings.Join(append([]string{name}, flags...), " "))
	b.once.Do(func() {
		args := append([]string{"-O2", "-Wall", "-Werror"}, flags...)
		msg, err := exec.Command(gcc, append(args, "-o", b.path, filepath.Join("c", name+".c"))...).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("gcc %s.c: %w\n%s", name, err, msg)
		}
	})
	require.NoError(t, b.err)
	return b.path
}

// cBuild returns the build of "NAME FLAGS...", which may not have been made yet.
func cBuild(t *testing.T, what string) *build {
	cBuilds.Lock()
	defer cBuilds.Unlock()
	require.NotZero(t, cBuilds.users, "call useC first")
	if cBuilds.dir == "" {
		dir, err := os.MkdirTemp("", "c-peers-")
		require.NoError(t, err)
		cBuilds.dir, cBuilds.built = dir, map[string]*build{}
	}
	b, ok := cBuilds.built[what]
	if !ok {
		b = &build{path: filepath.Join(cBuilds.dir, fmt.Sprint(len(cBuilds.built)))}
		cBuilds.built[what] = b
	}
	return b
}

// cBuilds are the C programs built for the tests that hold them (useC).
var cBuilds struct {
	sync.Mutex
	dir   string
	built map[string]*build // by "NAME FLAGS..."
	users int
}

// build is one C program, built once.
type build struct {
	once sync.Once
	path string
	err  error
}

// cExchange is one Go/C pairing: the Go program runs goArgs in the role goRole and
// starts first (it creates the objects); the C program built from cProgram opens them.
type cExchange struct {
	name     string
	goRole   string   // "consumer": a C producer feeds it; "producer": it feeds a C consumer
	cProgram string   // c/NAME.c
	size     string   // message size (the largest, with mixed sizes)
	mixed    string   // "1" for mixed sizes
	goArgs   []string // transport and ring shape
}

// TestCPeers: each ring's documented layout (06-sync/README.md for semring, package
// fastring for fast) is enough for C. A C producer feeds the Go consumer and the Go
// producer feeds a C consumer, through the same segment and semaphores.
func TestCPeers(t *testing.T) {
	useC(t)
	t.Parallel()
	small := []string{"-mixed", "-slotsize", "64", "-slots", "3"}
	tinyFast := []string{"-transport", "fast", "-mixed", "-slots", "2", "-slotsize", "64"}
	tests := []cExchange{
		{"semring: C producer to Go consumer", "consumer", "producer", "1000", "0", nil},
		{"semring: C producer to Go consumer, mixed sizes over small slots", "consumer", "producer", "300", "1", small},
		{"semring: Go producer to C consumer", "producer", "consumer", "1000", "0", nil},
		{"semring: Go producer to C consumer, mixed sizes over small slots", "producer", "consumer", "300", "1", small},
		{"fast: C producer to Go consumer", "consumer", "fast_producer", "1000", "0", []string{"-transport", "fast"}},
		{"fast: C producer to Go consumer, messages larger than a 128-byte ring", "consumer", "fast_producer", "300", "1", tinyFast},
		{"fast: Go producer to C consumer", "producer", "fast_consumer", "1000", "0", []string{"-transport", "fast"}},
		{"fast: Go producer to C consumer, messages larger than a 128-byte ring", "producer", "fast_consumer", "300", "1", tinyFast},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exchangeWithC(t, tt, buildC(t, tt.cProgram))
		})
	}
}

// exchangeWithC runs one pairing of 3000 messages and checks that the receiving
// side, Go or C, verified count and checksum.
func exchangeWithC(t *testing.T, tt cExchange, cBinary string) {
	_, key := testKey(t)
	args := append([]string{tt.goRole, "-key", key, "-messages", "3000", "-size", tt.size, "-wait", "20s"}, tt.goArgs...)
	g := ipctest.StartProgram(t, args...)
	g.Expect(t, "waiting up to", 10*time.Second)
	var cmd *exec.Cmd
	if tt.goRole == "consumer" {
		cmd = exec.Command(cBinary, key, "3000", tt.size, tt.mixed)
	} else {
		cmd = exec.Command(cBinary, key)
	}
	cout, cerr := cmd.CombinedOutput()
	r := g.Wait(t)
	require.NoError(t, cerr, "C side: %s\nGo side stderr: %s", cout, r.Stderr)
	require.Equal(t, 0, r.ExitCode, "Go side stderr: %s\nC side: %s", r.Stderr, cout)
	if tt.goRole == "consumer" {
		assertVerified(t, r.Stdout, 3000)
		assert.Contains(t, string(cout), "C producer: sent 3000 messages")
	} else {
		assert.Regexp(t, `C consumer: 3000 messages, \d+ bytes, crc32 0x[0-9a-f]{8} verified`, string(cout))
	}
}

// TestCPeerRefusedWhileAGoPeerHoldsTheRole: a C consumer that finds the consumer
// role held by a running Go consumer is refused (it claims with compare-and-swap
// and a liveness check, as the README documents), and the Go consumer keeps the
// role: a C producer then streams to it.
func TestCPeerRefusedWhileAGoPeerHoldsTheRole(t *testing.T) {
	useC(t)
	t.Parallel()
	tests := []struct {
		transport, consumer, producer string
	}{
		{"semring", "consumer", "producer"},
		{"fast", "fast_consumer", "fast_producer"},
	}
	for _, tt := range tests {
		t.Run(tt.transport, func(t *testing.T) {
			t.Parallel()
			consumer, producer := buildC(t, tt.consumer), buildC(t, tt.producer)
			_, key := testKey(t)
			g := ipctest.StartProgram(t, "consumer", "-transport", tt.transport, "-key", key, "-messages", "300", "-size", "100", "-wait", "20s")
			g.Expect(t, "waiting up to", 10*time.Second)
			var stderr strings.Builder
			second := exec.Command(consumer, key)
			second.Stderr = &stderr
			err := second.Run()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "the second consumer must be refused")
			assert.Equal(t, 1, exit.ExitCode())
			assert.Equal(t, fmt.Sprintf("the consumer role is taken by pid %d, which is running; start only one consumer\n", g.Pid()), stderr.String())
			out, err := exec.Command(producer, key, "300", "100", "0").CombinedOutput()
			require.NoError(t, err, "C producer: %s", out)
			r := g.Wait(t)
			require.Equal(t, 0, r.ExitCode, "Go consumer: %s", r.Stderr)
			assertVerified(t, r.Stdout, 300)
		})
	}
}

// cRingConfig is the shape of the rings cRing makes.
var cRingConfig = ringConfig{Slots: 2, SlotSize: 128}

// cRing lays out a ring of the transport under key as the Go program's creator
// does, for a C peer to open: a segment with the common header (creator: this
// process) and a semaphore set, initialised with sem.Create, or with a bare semget
// when initialised is false (sem_otime stays 0). Both are removed at the end.
func cRing(t *testing.T, transport string, key ftok.Key, initialised bool) (seg []byte, semid int) {
	t.Helper()
	tr, ok := transportNamed(transport)
	require.True(t, ok)
	cfg := cRingConfig
	size, values := tr.Layout(cfg)
	shmid, err := unix.SysvShmGet(int(key), size, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = unix.SysvShmCtl(shmid, unix.IPC_RMID, nil) })
	seg = ipctest.Attach(t, shmid, 0)
	if initialised {
		set, err := sem.Create(key, 0o600, values...)
		require.NoError(t, err)
		semid = set.ID()
	} else {
		id, _, errno := unix.Syscall(unix.SYS_SEMGET, uintptr(key), uintptr(len(values)), unix.IPC_CREAT|unix.IPC_EXCL|0o600)
		require.Zero(t, errno)
		semid = int(id)
		ipctest.ClaimSet(semid) // no operation names the run as its maker
	}
	t.Cleanup(func() { _ = sem.FromID(semid).Remove() })
	require.NoError(t, tr.Format(seg, cfg))
	hdr := header.Of(seg)
	hdr.Format(tr.Kind(), tr.KindVersion(), size)
	hdr.Publish()
	return seg, semid
}

// TestCPeerGivesUpOnAnUninitialisedSet: a set whose sem_otime stays 0 was never
// initialised (its creator died before its first semop); the C peer says so and
// exits instead of using it. Built with -DOTIME_WAIT_S=1, it gives up after 1 s
// instead of the 10 s of the real build.
func TestCPeerGivesUpOnAnUninitialisedSet(t *testing.T) {
	useC(t)
	t.Parallel()
	consumer := buildC(t, "consumer", "-DOTIME_WAIT_S=1")
	k, key := testKey(t)
	_, semid := cRing(t, "semring", k, false)
	var stderr strings.Builder
	cmd := exec.Command(consumer, key)
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Equal(t, fmt.Sprintf("semaphore set %d was never initialised: sem_otime still 0 after 1 s (its creator died before its first semop?)\n", semid), stderr.String())
	assert.Less(t, time.Since(start), 5*time.Second)
}

// TestCProducerEndOfStream: the C producer's last wait ends without an error when
// the consumer has taken everything and exited, even if the wake-up never came
// (the consumer died between taking the end and posting): at a timeout it checks
// the peer's liveness first, then the condition (semring: done; fast: head ==
// tail). Here the test plays the consumer, whose pid in the header is a stand-in
// process: alive while the test takes the slots, killed once it has (with no post),
// so that the producer finds the consumer gone and what it waited for there.
func TestCProducerEndOfStream(t *testing.T) {
	useC(t)
	t.Parallel()
	tests := []struct {
		transport, producer string
		consume             func(t *testing.T, seg []byte, set *sem.Set)
	}{
		{"semring", "producer", func(t *testing.T, seg []byte, set *sem.Set) {
			for range 2 { // the trailer and the end marker, one slot each
				require.NoError(t, set.WaitTimeout(semring.Full, false, 10*time.Second))
			}
			atomic.StoreUint32((*uint32)(unsafe.Pointer(&seg[76])), 1) // done; no post of EMPTY
		}},
		{"fast", "fast_producer", func(t *testing.T, seg []byte, set *sem.Set) {
			tail := (*uint64)(unsafe.Pointer(&seg[128]))
			require.Eventually(t, func() bool {
				n, err := set.Waiting(fastring.SemSpace)
				return err == nil && n == 1 && atomic.LoadUint64(tail) == 48 // trailer record 40, end 8
			}, 10*time.Second, time.Millisecond, "the producer never went to sleep after the end marker")
			atomic.StoreUint64((*uint64)(unsafe.Pointer(&seg[256])), 48) // head = tail; no post
		}},
	}
	for _, tt := range tests {
		t.Run(tt.transport, func(t *testing.T) {
			t.Parallel()
			producer := buildC(t, tt.producer)
			k, key := testKey(t)
			seg, semid := cRing(t, tt.transport, k, true)
			standIn := exec.Command("sleep", "60")
			require.NoError(t, standIn.Start())
			t.Cleanup(func() { _ = standIn.Process.Kill(); _ = standIn.Wait() }) // if the test stops early
			atomic.StoreUint32((*uint32)(unsafe.Pointer(&seg[header.OffConsumerPid])), uint32(standIn.Process.Pid))
			cmd := exec.Command(producer, key, "0", "100", "0") // no messages: the trailer, then the end
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Start())
			tt.consume(t, seg, sem.FromID(semid))
			require.NoError(t, standIn.Process.Kill())
			_ = standIn.Wait() // reaped: kill(pid, 0) says ESRCH
			err := cmd.Wait()
			assert.NoError(t, err, "stderr: %s", stderr.String())
			assert.Equal(t, "C producer: sent 0 messages, 0 bytes, crc32 0x00000000\n", stdout.String())
			assert.Empty(t, stderr.String())
		})
	}
}

// exitedPid returns the pid of a process that has exited and been reaped.
func exitedPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$") // any short-lived process will do
	cmd.Env = append(os.Environ(), "SHMCOURSE_TEST_HELPER=no-such-helper")
	_ = cmd.Run()
	return cmd.Process.Pid
}

// TestCProducerRefusedLeavesMaxMessage: a C producer refused while a Go producer
// waits writes nothing into the header, not even its max message, so a C consumer
// then sizes its buffer for the Go producer's 5000-byte messages.
func TestCProducerRefusedLeavesMaxMessage(t *testing.T) {
	useC(t)
	t.Parallel()
	tests := []struct {
		transport, consumer, producer string
	}{
		{"semring", "consumer", "producer"},
		{"fast", "fast_consumer", "fast_producer"},
	}
	for _, tt := range tests {
		t.Run(tt.transport, func(t *testing.T) {
			t.Parallel()
			consumer, producer := buildC(t, tt.consumer), buildC(t, tt.producer)
			_, key := testKey(t)
			g := ipctest.StartProgram(t, "producer", "-transport", tt.transport, "-key", key, "-messages", "10", "-size", "5000", "-wait", "20s")
			g.Expect(t, "waiting up to", 10*time.Second)
			var stderr strings.Builder
			second := exec.Command(producer, key, "10", "8", "0")
			second.Stderr = &stderr
			err := second.Run()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "the second producer must be refused")
			assert.Equal(t, 1, exit.ExitCode())
			assert.Equal(t, fmt.Sprintf("the producer role is taken by pid %d, which is running; start only one producer\n", g.Pid()), stderr.String())
			out, err := exec.Command(consumer, key).CombinedOutput()
			require.NoError(t, err, "C consumer: %s", out)
			assert.Regexp(t, `^C consumer: 10 messages, 50000 bytes, crc32 0x[0-9a-f]{8} verified\n$`, string(out))
			r := g.Wait(t)
			assert.Equal(t, 0, r.ExitCode, "Go producer: %s", r.Stderr)
			assert.Empty(t, r.Stderr)
		})
	}
}

// TestConsumerWaitsForMaxMessage: the producer stores max message right after its
// claim, so a consumer may find the producer's pid while max message is still 0.
// It must wait for the value, not size its buffer from the 0. The test plays the
// producer: it creates the ring, claims the producer role, and stores max message
// only after the consumer (Go or C) has found its pid; then it sends three
// 5000-byte messages and the trailer.
func TestConsumerWaitsForMaxMessage(t *testing.T) {
	eachConsumerWithTheTestAsProducer(t, func(t *testing.T, p testProducer) {
		var done <-chan struct{}
		var cOut strings.Builder
		var cmd *exec.Cmd
		var g *ipctest.Proc
		if p.cConsumer == "" {
			g = ipctest.StartProgram(t, "consumer", "-transport", p.transport, "-key", p.key, "-wait", "10s")
			g.Expect(t, "load max message at offset 28", 10*time.Second)
			done = g.Done()
		} else {
			cmd = exec.Command(p.cConsumer, p.key)
			cmd.Stdout, cmd.Stderr = &cOut, &cOut
			require.NoError(t, cmd.Start())
			ch := make(chan struct{})
			go func() { _ = cmd.Wait(); close(ch) }()
			done = ch
			require.Eventually(t, func() bool { return p.hdr.Pid(header.Consumer) == cmd.Process.Pid }, 10*time.Second, time.Millisecond, "the C consumer never claimed its role")
		}
		select {
		case <-done:
			t.Fatal("the consumer ended while max message was still 0")
		case <-time.After(300 * time.Millisecond):
		}
		if g != nil {
			assert.NotContains(t, g.Stdout(), "the largest message the producer will send", "read while max message was 0")
		}
		p.hdr.SetMaxMessage(5000)

		sent := playProducer(t, p.transport, p.seg, p.semid, 3, 5000)
		<-done
		if g != nil {
			r := g.Wait(t)
			require.Equal(t, 0, r.ExitCode, r.Stderr)
			assert.Empty(t, r.Stderr)
			assert.Contains(t, r.Stdout, "-> 5000 bytes: the largest message the producer will send\n")
			assertVerified(t, r.Stdout, 3)
		} else {
			assert.Equal(t, 0, cmd.ProcessState.ExitCode(), cOut.String())
			assert.Equal(t, fmt.Sprintf("C consumer: 3 messages, 15000 bytes, crc32 %#08x verified\n", sent.crc), cOut.String())
		}
	})
}

// playProducer sends messages data messages of size bytes, the trailer and the end
// of the stream through the ring in seg, as the program's producer does, once the
// test has claimed the producer role; it returns what it sent.
func playProducer(t *testing.T, transport string, seg []byte, semid, messages, size int) tally {
	t.Helper()
	tr, _ := transportNamed(transport)
	out, err := tr.Sender(seg, sem.FromID(semid))
	require.NoError(t, err)
	var sent tally
	msg := make([]byte, size)
	for i := uint64(0); i < uint64(messages); i++ {
		fillMessage(msg, i)
		sent.add(msg)
		require.NoError(t, out.Send(msg))
	}
	require.NoError(t, out.Send(sent.trailer()))
	require.NoError(t, out.Close())
	return sent
}

// TestConsumerChecksThePattern: the trailer's CRC-32 only says that the consumer
// got the bytes the producer sent. A producer that sends the wrong bytes with a
// CRC-32 of those wrong bytes must fail too: the consumers, Go and C, check every
// byte k >= 8 of message i against (i + k) & 0xff. The test plays that producer.
func TestConsumerChecksThePattern(t *testing.T) {
	eachConsumerWithTheTestAsProducer(t, func(t *testing.T, p testProducer) {
		p.hdr.SetMaxMessage(300)
		var g *ipctest.Proc
		var cmd *exec.Cmd
		var cOut strings.Builder
		if p.cConsumer == "" {
			g = ipctest.StartProgram(t, "consumer", "-transport", p.transport, "-key", p.key, "-wait", "10s")
		} else {
			cmd = exec.Command(p.cConsumer, p.key)
			cmd.Stdout, cmd.Stderr = &cOut, &cOut
			require.NoError(t, cmd.Start())
		}
		tr, _ := transportNamed(p.transport)
		out, err := tr.Sender(p.seg, sem.FromID(p.semid))
		require.NoError(t, err)
		var sent tally
		msg := make([]byte, 300)
		for i := uint64(0); i < 3; i++ {
			fillMessage(msg, i)
			if i == 2 {
				msg[270] ^= 0x40 // wrong, and counted in the CRC as sent
			}
			sent.add(msg)
			if err := out.Send(msg); err != nil {
				break // the consumer stopped at the wrong byte and removed the set
			}
		}
		_ = out.Send(sent.trailer())
		_ = out.Close()
		good := byte((2 + 270) & 0xff)
		want := fmt.Sprintf("message 2: byte 270 is 0x%02x, not 0x%02x", good^0x40, good)
		if g != nil {
			r := g.Wait(t)
			ipctest.AssertOneLineError(t, r, 1, want+" ((2 + 270) & 0xff): the payload is not the documented pattern")
		} else {
			err := cmd.Wait()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, cOut.String())
			assert.Equal(t, 1, exit.ExitCode())
			assert.Equal(t, want+": the payload is not the documented pattern\n", cOut.String())
		}
	})
}

// testProducer is a ring made by the test, whose producer role the test has
// claimed, and the consumer to run against it: the C one if cConsumer names its
// program, else the Go one.
type testProducer struct {
	transport string
	key       string // for -key, and the C consumer's argument
	seg       []byte
	semid     int
	hdr       header.Header
	cConsumer string
}

// eachConsumerWithTheTestAsProducer runs body in parallel for each transport and
// each consumer, Go and C, with a new ring whose producer role the test has claimed.
func eachConsumerWithTheTestAsProducer(t *testing.T, body func(t *testing.T, p testProducer)) {
	useC(t)
	t.Parallel()
	for _, tt := range []struct{ transport, cConsumer string }{{"semring", "consumer"}, {"fast", "fast_consumer"}} {
		for _, lang := range []string{"Go", "C"} {
			t.Run(tt.transport+"/"+lang, func(t *testing.T) {
				t.Parallel()
				p := testProducer{transport: tt.transport}
				if lang == "C" {
					p.cConsumer = buildC(t, tt.cConsumer)
				}
				k, key := testKey(t)
				p.key = key
				p.seg, p.semid = cRing(t, tt.transport, k, true)
				p.hdr = header.Of(p.seg)
				require.NoError(t, p.hdr.Claim(header.Producer))
				body(t, p)
			})
		}
	}
}
