//go:build linux

package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/learn-sysv/shm-course/06-sync/header"
	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/ipctest"
)

// quiet is a narrator that says nothing and collects cleanups.
type quiet struct{ cleanups []quietCleanup }

type quietCleanup struct {
	fn       func() error
	onReturn bool // registered with CleanupOnReturn: not run on a signal
}

func (q *quiet) Call(string, ...any)   {}
func (q *quiet) Result(string, ...any) {}
func (q *quiet) Say(string, ...any)    {}
func (q *quiet) Look(string, ...any)   {}
func (q *quiet) Cleanup(_ string, fn func() error) {
	q.cleanups = append(q.cleanups, quietCleanup{fn, false})
}
func (q *quiet) Keep(what string, create func() (func() error, error)) error {
	undo, err := create()
	if err != nil {
		return err
	}
	q.Cleanup(what, undo)
	return nil
}
func (q *quiet) CleanupOnReturn(_ string, fn func() error) {
	q.cleanups = append(q.cleanups, quietCleanup{fn, true})
}

// run runs the cleanups, newest first, as a program's return does.
func (q *quiet) run() {
	for i := len(q.cleanups) - 1; i >= 0; i-- {
		_ = q.cleanups[i].fn()
	}
	q.cleanups = nil
}

// signal runs the cleanups a signal runs (lesson.Lesson leaves out those of
// CleanupOnReturn), newest first, and keeps the others for run.
func (q *quiet) signal() {
	var kept []quietCleanup
	for i := len(q.cleanups) - 1; i >= 0; i-- {
		if c := q.cleanups[i]; c.onReturn {
			kept = append([]quietCleanup{c}, kept...)
		} else {
			_ = c.fn()
		}
	}
	q.cleanups = kept
}

var benchSizes = []struct {
	name string
	n    int
}{{"64B", 64}, {"4KiB", 4 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}}

// BenchmarkTransfer moves b.N messages from this process to a separate consumer
// process: through each shared memory transport in the table, a pipe (os/exec's
// stdin pipe, an os.Pipe) and a Unix domain stream socket.
func BenchmarkTransfer(b *testing.B) {
	var names []string
	for _, t := range transports {
		names = append(names, t.name)
	}
	names = append(names, "pipe", "unixsocket")
	for _, name := range names {
		for _, size := range benchSizes {
			b.Run(name+"/"+size.name, func(b *testing.B) { benchTransfer(b, name, size.n) })
		}
	}
}

func benchTransfer(b *testing.B, name string, size int) {
	msg := make([]byte, size)
	fillMessage(msg, 1)
	b.SetBytes(int64(size))
	var send func([]byte) error
	var finish func() error
	var p *ipctest.Proc
	switch name {
	case "pipe":
		p = ipctest.StartHelper(b, "bench-consumer", "pipe", strconv.Itoa(size))
		p.Expect(b, "ready", 10*time.Second)
		send = func(m []byte) error { _, err := p.Stdin.Write(m); return err }
		finish = p.Stdin.Close
	case "unixsocket":
		path := filepath.Join(b.TempDir(), "sock")
		p = ipctest.StartHelper(b, "bench-consumer", "unixsocket", strconv.Itoa(size), path)
		p.Expect(b, "ready", 10*time.Second)
		conn, err := net.Dial("unix", path)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		send = func(m []byte) error { _, err := conn.Write(m); return err }
		finish = conn.(*net.UnixConn).CloseWrite
	default:
		t, _ := transportNamed(name)
		key, _ := ipctest.UnusedKey(b)
		q := &quiet{}
		defer q.run()
		ep, err := meet(q, key, t, benchConfig(name, size), 10*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		p = ipctest.StartHelper(b, "bench-consumer", name, strconv.Itoa(size), key.String())
		if err := ep.awaitPeer(q, header.Producer, size, 10*time.Second); err != nil {
			b.Fatal(err)
		}
		_ = ep.removeSegment()
		out, err := t.Sender(ep.seg, ep.set)
		if err != nil {
			b.Fatal(err)
		}
		send, finish = out.Send, out.Close
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := send(msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := finish(); err != nil {
		b.Fatal(err)
	}
	p.Expect(b, fmt.Sprintf("done %d", b.N), 60*time.Second)
	b.StopTimer()
	if r := p.Wait(b); r.ExitCode != 0 {
		b.Fatalf("consumer: exit %d: %s", r.ExitCode, r.Stderr)
	}
}

// benchConfig is the ring for the benchmark: 8 slots of up to 64 KiB, so a 1 MiB
// message takes 16 slots (a pipe's buffer is 64 KiB as well). The fast transport
// has its own (fastBenchConfig, pingpong_test.go).
func benchConfig(name string, size int) ringConfig {
	if name == "fast" {
		return fastBenchConfig
	}
	return ringConfig{Slots: 8, SlotSize: min(size, 64<<10)}
}

// helperBenchConsumer: bench-consumer TRANSPORT SIZE [KEY|PATH]. It receives
// messages of SIZE bytes until the end of the stream, then prints "done N".
func helperBenchConsumer(args []string) int {
	name := args[0]
	size, _ := strconv.Atoi(args[1])
	buf := make([]byte, size)
	var recv func() error
	switch name {
	case "pipe":
		recv = func() error { _, err := io.ReadFull(os.Stdin, buf); return err }
		fmt.Println("ready")
	case "unixsocket":
		ln, err := net.Listen("unix", args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("ready")
		conn, err := ln.Accept()
		ln.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		recv = func() error { _, err := io.ReadFull(conn, buf); return err }
	default:
		t, _ := transportNamed(name)
		var k uint32
		fmt.Sscanf(args[2], "0x%x", &k)
		q := &quiet{}
		defer q.run()
		ep, err := meet(q, ftok.Key(int32(k)), t, benchConfig(name, size), 10*time.Second)
		if err == nil {
			err = ep.awaitPeer(q, header.Consumer, 0, 10*time.Second)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		in, err := t.Receiver(ep.seg, ep.set)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		recv = func() error { _, err := in.Receive(buf); return err }
	}
	n := 0
	for {
		err := recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		n++
	}
	fmt.Printf("done %d\n", n)
	return 0
}
