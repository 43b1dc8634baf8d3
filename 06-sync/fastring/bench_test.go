//go:build linux

package fastring

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/06-sync/header"
	"github.com/learn-sysv/shm-course/internal/ipctest"
)

// The benchmarks compare the fast ring with a pipe between two processes: this
// one (the producer) and a helper (the consumer). They measure from the first
// message until the consumer has taken the last.
//
//	go test -run '^$' -bench . -count 5 ./06-sync/fastring/

// benchCapacity is the fast ring's data area in the benchmarks.
// 4 MiB, larger than a core's L2 cache here (1 MiB): see README.md for why that
// matters.
var benchCapacity = flag.Int("fastring.capacity", 4<<20, "data area of the fast ring in the benchmarks, bytes")

var benchSizes = []struct {
	name string
	size int
}{
	{"64B", 64}, {"4KiB", 4 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20},
}

func BenchmarkTransfer(b *testing.B) {
	for _, tr := range []struct {
		name string
		fn   func(*testing.B, int)
	}{{"fast", transferFast}, {"pipe", transferPipe}} {
		for _, sz := range benchSizes {
			b.Run(tr.name+"/"+sz.name, func(b *testing.B) {
				b.SetBytes(int64(sz.size))
				tr.fn(b, sz.size)
			})
		}
	}
}

func transferFast(b *testing.B, size int) {
	r := newRing(b, *benchCapacity)
	sink := ipctest.StartHelper(b, "sink", append(r.ids(), "-size", strconv.Itoa(size))...)
	sink.Expect(b, "ready", 10*time.Second)
	require.NoError(b, header.Of(r.seg).Claim(header.Producer))
	s, err := NewSender(r.seg, r.set)
	require.NoError(b, err)
	msg := make([]byte, size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Send(msg); err != nil {
			b.Fatal(err)
		}
	}
	require.NoError(b, s.Close()) // returns when the consumer has taken everything
	b.StopTimer()
	res := sink.Wait(b)
	require.Equal(b, 0, res.ExitCode, res.Stderr)
	st := s.Stats()
	b.ReportMetric(float64(st.Sleeps+st.Posts)/float64(b.N), "semops/msg")
}

// transferPipe writes to the helper's standard input, which exec.Cmd makes with
// os.Pipe: one write(2) per message here, reads of exactly one message there.
func transferPipe(b *testing.B, size int) {
	sink := ipctest.StartHelper(b, "sink", "-pipe", "-size", strconv.Itoa(size))
	sink.Expect(b, "ready", 10*time.Second)
	msg := make([]byte, size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := sink.Stdin.Write(msg); err != nil {
			b.Fatal(err)
		}
	}
	require.NoError(b, sink.Stdin.Close())
	sink.Expect(b, "done", 30*time.Second)
	b.StopTimer()
	require.Equal(b, 0, sink.Wait(b).ExitCode)
}

// helperSink is the consumer of BenchmarkTransfer: it receives messages of -size
// bytes until the end of the stream, from the fast ring or from standard input.
func helperSink(args []string) int {
	fs := flag.NewFlagSet("sink", flag.ContinueOnError)
	shmid := fs.Int("shm", -1, "")
	semid := fs.Int("sem", -1, "")
	size := fs.Int("size", 64, "")
	pipe := fs.Bool("pipe", false, "")
	if err := fs.Parse(args); err != nil {
		return fail(err)
	}
	buf := make([]byte, *size)
	n := 0
	if *pipe {
		fmt.Println("ready")
		for {
			if _, err := io.ReadFull(os.Stdin, buf); err == io.EOF {
				break
			} else if err != nil {
				return fail(err)
			}
			n++
		}
	} else {
		seg, set, err := attachHelper(plan{shmid: *shmid, semid: *semid}, header.Consumer)
		if err != nil {
			return fail(err)
		}
		r, err := NewReceiver(seg, set)
		if err != nil {
			return fail(err)
		}
		fmt.Println("ready")
		for {
			m, err := r.Receive(buf)
			if err == io.EOF {
				break
			}
			if err != nil {
				return fail(err)
			}
			if m != *size {
				return fail(fmt.Errorf("message %d: %d bytes, want %d", n, m, *size))
			}
			n++
		}
	}
	fmt.Println("done", n)
	return 0
}

// BenchmarkPingPong sends a 64-byte message to a helper that sends it straight
// back: ns/op is the round trip.
func BenchmarkPingPong(b *testing.B) {
	b.Run("fast", pingPongFast)
	b.Run("pipe", pingPongPipe)
}

func pingPongFast(b *testing.B) {
	there, back := newRing(b, 4096), newRing(b, 4096)
	echo := ipctest.StartHelper(b, "echo", "-there", strconv.Itoa(there.shmid), "-there-sem", strconv.Itoa(there.set.ID()),
		"-back", strconv.Itoa(back.shmid), "-back-sem", strconv.Itoa(back.set.ID()))
	echo.Expect(b, "ready", 10*time.Second)
	require.NoError(b, header.Of(there.seg).Claim(header.Producer))
	require.NoError(b, header.Of(back.seg).Claim(header.Consumer))
	s, err := NewSender(there.seg, there.set)
	require.NoError(b, err)
	r, err := NewReceiver(back.seg, back.set)
	require.NoError(b, err)
	msg, buf := make([]byte, 64), make([]byte, 64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.Send(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Receive(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	require.NoError(b, s.Close())
	require.Equal(b, 0, echo.Wait(b).ExitCode)
}

// pingPongPipe uses two named pipes (FIFOs, fifo(7)): the same kernel pipe code as
// os.Pipe, with names so that the helper can open them.
func pingPongPipe(b *testing.B) {
	dir := b.TempDir()
	there, back := filepath.Join(dir, "there"), filepath.Join(dir, "back")
	require.NoError(b, unix.Mkfifo(there, 0o600))
	require.NoError(b, unix.Mkfifo(back, 0o600))
	echo := ipctest.StartHelper(b, "echo", "-there-fifo", there, "-back-fifo", back)
	w, err := os.OpenFile(there, os.O_WRONLY, 0) // blocks until the helper opens it
	require.NoError(b, err)
	defer w.Close()
	r, err := os.Open(back)
	require.NoError(b, err)
	defer r.Close()
	msg, buf := make([]byte, 64), make([]byte, 64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := w.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(r, buf); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	require.NoError(b, w.Close())
	require.Equal(b, 0, echo.Wait(b).ExitCode)
}

// helperEcho sends back every message it receives until the end of the stream,
// through two fast rings or two FIFOs.
func helperEcho(args []string) int {
	fs := flag.NewFlagSet("echo", flag.ContinueOnError)
	there := fs.Int("there", -1, "")
	thereSem := fs.Int("there-sem", -1, "")
	back := fs.Int("back", -1, "")
	backSem := fs.Int("back-sem", -1, "")
	thereFifo := fs.String("there-fifo", "", "")
	backFifo := fs.String("back-fifo", "", "")
	if err := fs.Parse(args); err != nil {
		return fail(err)
	}
	buf := make([]byte, 64)
	if *thereFifo != "" {
		r, err := os.Open(*thereFifo)
		if err != nil {
			return fail(err)
		}
		w, err := os.OpenFile(*backFifo, os.O_WRONLY, 0)
		if err != nil {
			return fail(err)
		}
		for {
			if _, err := io.ReadFull(r, buf); err == io.EOF {
				return 0
			} else if err != nil {
				return fail(err)
			}
			if _, err := w.Write(buf); err != nil {
				return fail(err)
			}
		}
	}
	in, inSet, err := attachHelper(plan{shmid: *there, semid: *thereSem}, header.Consumer)
	if err != nil {
		return fail(err)
	}
	out, outSet, err := attachHelper(plan{shmid: *back, semid: *backSem}, header.Producer)
	if err != nil {
		return fail(err)
	}
	r, err := NewReceiver(in, inSet)
	if err != nil {
		return fail(err)
	}
	s, err := NewSender(out, outSet)
	if err != nil {
		return fail(err)
	}
	fmt.Println("ready")
	for {
		n, err := r.Receive(buf)
		if err == io.EOF {
			return 0
		}
		if err != nil {
			return fail(err)
		}
		if err := s.Send(buf[:n]); err != nil {
			return fail(err)
		}
	}
}
