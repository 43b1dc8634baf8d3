//go:build linux

package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/crc32"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/learn-sysv/shm-course/06-sync/fastring"
	"github.com/learn-sysv/shm-course/06-sync/header"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
)

// streamFlags are the flags both sides (and the launcher) take.
type streamFlags struct {
	keyFile   string
	proj      int
	keyNum    string
	transport string
	slots     int
	slotSize  int
	wait      time.Duration
	messages  int
	size      int
	mixed     bool
	delay     time.Duration
}

func (f *streamFlags) define(l *lesson.Lesson) {
	l.Flags.StringVar(&f.keyFile, "keyfile", "/tmp", "file that ftok turns into the meeting key")
	l.Flags.IntVar(&f.proj, "proj", 6, "ftok project id (low 8 bits, nonzero)")
	l.Flags.StringVar(&f.keyNum, "key", "", "the key as a number (0x... or decimal), instead of ftok(-keyfile, -proj)")
	l.Flags.StringVar(&f.transport, "transport", transports[0].name, fmt.Sprintf("how to move the messages: %v", transportNames()))
	l.Flags.IntVar(&f.slots, "slots", 8, "slots in the ring (used by whichever side creates it)")
	l.Flags.IntVar(&f.slotSize, "slotsize", 4096, "payload bytes per slot (longer messages take several slots)")
	l.Flags.DurationVar(&f.wait, "wait", 60*time.Second, "how long to wait for the other side")
	l.Flags.IntVar(&f.messages, "messages", 100000, "messages the producer sends")
	l.Flags.IntVar(&f.size, "size", 1024, "message size in bytes (at least 8); with -mixed, the largest")
	l.Flags.BoolVar(&f.mixed, "mixed", false, "mixed message sizes from 8 to -size bytes")
	l.Flags.DurationVar(&f.delay, "delay", 0, "pause this long after each message, to watch the ring fill or drain (go run ./06-sync monitor)")
}

// check validates the flags and returns the key and the transport.
func (f *streamFlags) check(l *lesson.Lesson) (ftok.Key, transport, error) {
	t, ok := transportNamed(f.transport)
	if !ok {
		return 0, nil, lesson.Usagef("-transport %q: want one of %v", f.transport, transportNames())
	}
	switch {
	case f.messages < 0:
		return 0, nil, lesson.Usagef("-messages %d: cannot be negative", f.messages)
	case f.size < 8 || f.size > 64<<20:
		return 0, nil, lesson.Usagef("-size %d: want 8 bytes (room for the sequence number) to 64 MiB", f.size)
	case f.slots < 1 || f.slots > 32767:
		return 0, nil, lesson.Usagef("-slots %d: want 1 to 32767 (SEMVMX, a semaphore's largest value)", f.slots)
	case f.slotSize < 8 || f.slotSize > 64<<20:
		return 0, nil, lesson.Usagef("-slotsize %d: want 8 bytes to 64 MiB", f.slotSize)
	case f.wait <= 0:
		return 0, nil, lesson.Usagef("-wait %v: must be positive", f.wait)
	case f.delay < 0:
		return 0, nil, lesson.Usagef("-delay %v: cannot be negative", f.delay)
	case t.Kind() == header.KindFast && f.slots*f.slotSize > fastring.MaxCapacity:
		return 0, nil, lesson.Usagef("-slots %d -slotsize %d: the fast ring's data area would be %d bytes; at most %d (1 GiB)", f.slots, f.slotSize, f.slots*f.slotSize, fastring.MaxCapacity)
	}
	if given(l, "key") {
		if given(l, "keyfile") || given(l, "proj") {
			return 0, nil, lesson.Usagef("-key %s with -keyfile or -proj: give the key as a number or as ftok's file and project id, not both", f.keyNum)
		}
		key, err := parseKey(f.keyNum)
		return key, t, err
	}
	key, err := ftok.Ftok(f.keyFile, f.proj)
	if err != nil {
		return 0, nil, lesson.Usagef("ftok(%q, %d): %v", f.keyFile, f.proj, err)
	}
	return key, t, nil
}

// keyGiven reports whether the command line chose the key (-key, -keyfile or -proj).
func keyGiven(l *lesson.Lesson) bool {
	return given(l, "key") || given(l, "keyfile") || given(l, "proj")
}

// given reports whether flag name was given on the command line.
func given(l *lesson.Lesson, name string) bool {
	given := false
	l.Flags.Visit(func(fl *flag.Flag) { given = given || fl.Name == name })
	return given
}

// parseKey reads a -key: hex with 0x or 0X (as ipcs prints keys), or decimal; a
// 32-bit value (C's key_t is an int: 0x80000000 and above are negative there) and
// not 0, which is IPC_PRIVATE, a key no other process can meet under.
func parseKey(s string) (ftok.Key, error) {
	var v uint64
	var err error
	if hex, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		v, err = strconv.ParseUint(hex, 16, 32)
	} else {
		v, err = strconv.ParseUint(s, 10, 32)
	}
	switch {
	case err != nil:
		return 0, lesson.Usagef("-key %q: want a 32-bit number, hex like 0x06010203 or decimal", s)
	case v == 0:
		return 0, lesson.Usagef("-key %s: 0 is IPC_PRIVATE, which makes a new object every time: the two sides could never meet under it", s)
	}
	return ftok.Key(int32(uint32(v))), nil
}

// noArguments refuses words left after the flags: flags come after the role, and
// nothing else.
func noArguments(l *lesson.Lesson) error {
	if l.Flags.NArg() > 0 {
		return lesson.Usagef("unexpected argument %q: the role comes first, then flags only", l.Flags.Arg(0))
	}
	return nil
}

func (f *streamFlags) config() ringConfig { return ringConfig{Slots: f.slots, SlotSize: f.slotSize} }

// The stream's messages, documented in README.md so that a C program can produce
// or check them:
//
//	data message i:  uint64 i (little-endian), then bytes (i + k) & 0xff for k = 8, 9, ...
//	its length:      -size, or with -mixed 8 + (i * 7919) % (size - 7)
//	trailer:         uint64 0xffffffffffffffff, uint64 messages, uint64 bytes, uint32 crc32
//	                 (IEEE, of every data message's bytes in order), 28 bytes in all
//	then the transport's end-of-stream marker.
const (
	trailerSeq  = ^uint64(0)
	trailerSize = 28
)

// messageSize is the length of data message i.
func messageSize(i uint64, size int, mixed bool) int {
	if !mixed || size == 8 {
		return size
	}
	return 8 + int(i*7919%uint64(size-7))
}

// cycle holds every byte value twice in a row, so that any 256 consecutive bytes
// of a message's payload pattern are one slice of it: byte k of message i is
// (i + k) & 0xff, and bytes k and k+256 are the same.
var cycle = func() (c [512]byte) {
	for i := range c {
		c[i] = byte(i)
	}
	return c
}()

// fillMessage writes data message i into b: its sequence number, then the pattern.
func fillMessage(b []byte, i uint64) {
	binary.LittleEndian.PutUint64(b, i)
	from := int((i + 8) & 0xff)
	for k := 8; k < len(b); k += 256 {
		copy(b[k:], cycle[from:from+256])
	}
}

// checkPattern compares the payload of data message i, bytes 8 and up, with the
// pattern fillMessage writes. The CRC-32 in the trailer only says that the consumer
// got the bytes the producer sent; this says that they are the bytes it should have
// sent. A comparison with a slice of cycle (a memcmp) costs less than the CRC.
func checkPattern(msg []byte, i uint64) error {
	from := int((i + 8) & 0xff)
	for k := 8; k < len(msg); k += 256 {
		chunk := msg[k:min(k+256, len(msg))]
		if bytes.Equal(chunk, cycle[from:from+len(chunk)]) {
			continue
		}
		for j, b := range chunk {
			if want := cycle[from+j]; b != want {
				return fmt.Errorf("message %d: byte %d is 0x%02x, not 0x%02x ((%d + %d) & 0xff): the payload is not the documented pattern", i, k+j, b, want, i, k+j)
			}
		}
	}
	return nil
}

// tally is what each side counts: the consumer checks its own against the
// producer's trailer.
type tally struct {
	messages uint64
	bytes    uint64
	crc      uint32
}

func (t *tally) add(msg []byte) {
	t.messages++
	t.bytes += uint64(len(msg))
	t.crc = crc32.Update(t.crc, crc32.IEEETable, msg)
}

func (t tally) trailer() []byte {
	b := make([]byte, trailerSize)
	binary.LittleEndian.PutUint64(b, trailerSeq)
	binary.LittleEndian.PutUint64(b[8:], t.messages)
	binary.LittleEndian.PutUint64(b[16:], t.bytes)
	binary.LittleEndian.PutUint32(b[24:], t.crc)
	return b
}

func parseTrailer(b []byte) (tally, bool) {
	if len(b) != trailerSize || binary.LittleEndian.Uint64(b) != trailerSeq {
		return tally{}, false
	}
	return tally{binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[16:]), binary.LittleEndian.Uint32(b[24:])}, true
}

// peerCommand is the command line that starts role to meet this side: the
// meeting flags as this side was given them (-key, or -keyfile and -proj; none for
// the default key) and the transport unless it is the default. The flags that only
// the creator (-slots, -slotsize) or only the producer (-size, -messages) reads do
// not decide whether the two meet, and are left to the learner.
func peerCommand(l *lesson.Lesson, f *streamFlags, role string) string {
	cmd := "go run ./06-sync " + role
	if f.transport != transports[0].name || given(l, "transport") {
		cmd += " -transport " + shellWord(f.transport)
	}
	l.Flags.Visit(func(fl *flag.Flag) { // in lexical order: -key, -keyfile, -proj
		switch fl.Name {
		case "key", "keyfile", "proj":
			cmd += " -" + fl.Name + " " + shellWord(fl.Value.String())
		}
	})
	return cmd
}

// shellWord quotes s for a POSIX shell where it needs it, in single quotes.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=./:,@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func leUint64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

func pidOf() int { return os.Getpid() }

func pidOffsetOf(r header.Role) int {
	if r == header.Producer {
		return header.OffProducerPid
	}
	return header.OffConsumerPid
}
