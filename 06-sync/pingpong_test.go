//go:build linux

package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/06-sync/header"
	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/ipctest"
)

func init() { ipctest.Helper("bench-echo", helperBenchEcho) }

// fastBenchConfig is the fast ring of BenchmarkTransfer: a 4 MiB data area, larger
// than one core's L2 cache on the machine of the README's table (1 MiB). Measured
// there, a ring that fits in L2 is several times slower for 64 KiB and 1 MiB
// messages: each line the consumer reads is still in the producer's L2 and has to
// be fetched from it, while from a larger ring it has gone to the shared L3 cache.
var fastBenchConfig = ringConfig{Slots: 1, SlotSize: 4 << 20}

// pingConfig is every transport's ring in BenchmarkPingPong: 8 slots of 64 bytes,
// 512 bytes for the fast ring. One message is in flight at a time, and in a small
// ring the next message's bytes are on cache lines that were used a moment ago.
var pingConfig = ringConfig{Slots: 8, SlotSize: 64}

// pingSize is the message both sides send.
const pingSize = 64

// BenchmarkPingPong sends a 64-byte message to a separate process that sends it
// straight back, and waits for it: ns/op is the round-trip time.
func BenchmarkPingPong(b *testing.B) {
	names := append(transportNames(), "pipe", "unixsocket")
	for _, name := range names {
		b.Run(name, func(b *testing.B) { benchPingPong(b, name) })
	}
}

func benchPingPong(b *testing.B, name string) {
	msg, buf := make([]byte, pingSize), make([]byte, pingSize)
	fillMessage(msg, 1)
	var send func([]byte) error
	var recv func([]byte) error
	var finish func() error
	var p *ipctest.Proc
	switch name {
	case "pipe":
		// Two named pipes (fifo(7)): the kernel's pipe code, with names the
		// helper can open. Opening one end blocks until the other is opened.
		dir := b.TempDir()
		there, back := filepath.Join(dir, "there"), filepath.Join(dir, "back")
		for _, path := range []string{there, back} {
			if err := unix.Mkfifo(path, 0o600); err != nil {
				b.Fatal(err)
			}
		}
		p = ipctest.StartHelper(b, "bench-echo", "pipe", there, back)
		w, err := os.OpenFile(there, os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		r, err := os.Open(back)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		send = func(m []byte) error { _, err := w.Write(m); return err }
		recv = func(m []byte) error { _, err := io.ReadFull(r, m); return err }
		finish = w.Close
	case "unixsocket":
		path := filepath.Join(b.TempDir(), "sock")
		p = ipctest.StartHelper(b, "bench-echo", "unixsocket", path)
		p.Expect(b, "ready", 10*time.Second)
		conn, err := net.Dial("unix", path)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		send = func(m []byte) error { _, err := conn.Write(m); return err }
		recv = func(m []byte) error { _, err := io.ReadFull(conn, m); return err }
		finish = conn.(*net.UnixConn).CloseWrite
	default:
		// Two rings: "there" with this process as the producer, "back" with this
		// process as the consumer.
		t, _ := transportNamed(name)
		keyThere, _ := ipctest.UnusedKey(b)
		keyBack, _ := ipctest.UnusedKey(b)
		q := &quiet{}
		defer q.run()
		there, err := meet(q, keyThere, t, pingConfig, 10*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		back, err := meet(q, keyBack, t, pingConfig, 10*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		p = ipctest.StartHelper(b, "bench-echo", name, keyThere.String(), keyBack.String())
		if err := there.awaitPeer(q, header.Producer, pingSize, 10*time.Second); err != nil {
			b.Fatal(err)
		}
		if err := back.awaitPeer(q, header.Consumer, 0, 10*time.Second); err != nil {
			b.Fatal(err)
		}
		out, err := t.Sender(there.seg, there.set)
		if err != nil {
			b.Fatal(err)
		}
		in, err := t.Receiver(back.seg, back.set)
		if err != nil {
			b.Fatal(err)
		}
		send = out.Send
		recv = func(m []byte) error { _, err := in.Receive(m); return err }
		finish = out.Close
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := send(msg); err != nil {
			b.Fatal(err)
		}
		if err := recv(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if string(buf) != string(msg) {
		b.Fatalf("the echo changed the message")
	}
	if err := finish(); err != nil {
		b.Fatal(err)
	}
	if r := p.Wait(b); r.ExitCode != 0 {
		b.Fatalf("echo: exit %d: %s", r.ExitCode, r.Stderr)
	}
}

// helperBenchEcho: bench-echo TRANSPORT THERE BACK (keys, or FIFO paths), or
// bench-echo unixsocket PATH. It sends every 64-byte message back until the end of
// the stream.
func helperBenchEcho(args []string) int {
	buf := make([]byte, pingSize)
	var recv func([]byte) error
	var send func([]byte) error
	switch args[0] {
	case "pipe":
		r, err := os.Open(args[1])
		if err != nil {
			return echoFail(err)
		}
		w, err := os.OpenFile(args[2], os.O_WRONLY, 0)
		if err != nil {
			return echoFail(err)
		}
		recv = func(m []byte) error { _, err := io.ReadFull(r, m); return err }
		send = func(m []byte) error { _, err := w.Write(m); return err }
	case "unixsocket":
		ln, err := net.Listen("unix", args[1])
		if err != nil {
			return echoFail(err)
		}
		fmt.Println("ready")
		conn, err := ln.Accept()
		ln.Close()
		if err != nil {
			return echoFail(err)
		}
		recv = func(m []byte) error { _, err := io.ReadFull(conn, m); return err }
		send = func(m []byte) error { _, err := conn.Write(m); return err }
	default:
		t, ok := transportNamed(args[0])
		if !ok {
			return echoFail(fmt.Errorf("no transport %q", args[0]))
		}
		q := &quiet{}
		defer q.run()
		var keys [2]ftok.Key
		for i, s := range args[1:3] {
			var k uint32
			if _, err := fmt.Sscanf(strings.TrimSpace(s), "0x%x", &k); err != nil {
				return echoFail(fmt.Errorf("key %q: %w", s, err))
			}
			keys[i] = ftok.Key(int32(k))
		}
		there, err := meet(q, keys[0], t, pingConfig, 10*time.Second)
		if err == nil {
			err = there.awaitPeer(q, header.Consumer, 0, 10*time.Second)
		}
		if err != nil {
			return echoFail(err)
		}
		back, err := meet(q, keys[1], t, pingConfig, 10*time.Second)
		if err == nil {
			err = back.awaitPeer(q, header.Producer, pingSize, 10*time.Second)
		}
		if err != nil {
			return echoFail(err)
		}
		in, err := t.Receiver(there.seg, there.set)
		if err != nil {
			return echoFail(err)
		}
		out, err := t.Sender(back.seg, back.set)
		if err != nil {
			return echoFail(err)
		}
		recv = func(m []byte) error { _, err := in.Receive(m); return err }
		send = out.Send
	}
	for {
		err := recv(buf)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return 0
		}
		if err != nil {
			return echoFail(err)
		}
		if err := send(buf); err != nil {
			return echoFail(err)
		}
	}
}

func echoFail(err error) int {
	fmt.Fprintln(os.Stderr, "bench-echo:", err)
	return 1
}
