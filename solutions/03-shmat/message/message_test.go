//go:build linux

package message

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/procsysv"
)

const segSize = 1024

func TestMain(m *testing.M) {
	// The other process: it knows only the segment's id, given as an argument.
	ipctest.Helper("write", func(args []string) int {
		id, _ := strconv.Atoi(args[0])
		msg, _ := hex.DecodeString(args[1])
		if err := Write(id, msg); err != nil {
			fmt.Println("error:", err)
			return 1
		}
		fmt.Println("written")
		return 0
	})
	ipctest.Helper("read", func(args []string) int {
		id, _ := strconv.Atoi(args[0])
		msg, err := Read(id)
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		fmt.Println("read", hex.EncodeToString(msg))
		return 0
	})
	ipctest.Main(m, nil)
}

var messages = []struct {
	name string
	msg  []byte
}{
	{"empty", []byte{}},
	{"hello", []byte("hello, shared memory")},
	{"binary with zero bytes", []byte{0, 1, 2, 0, 255, 0}},
	{"1000 bytes", bytes.Repeat([]byte("0123456789"), 100)},
	{"exactly fills the segment", bytes.Repeat([]byte{'x'}, segSize-HeaderSize)},
}

// A message written by one process is read by another.
func TestWriteInOneProcessReadInAnother(t *testing.T) {
	for _, tt := range messages {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			id := ipctest.NewSegment(t, segSize, 0o600)

			w := ipctest.StartHelper(t, "write", strconv.Itoa(id), hex.EncodeToString(tt.msg))
			w.Expect(t, "written", 10*time.Second)
			require.Equal(t, 0, w.Wait(t).ExitCode, "the writing process failed: %s", w.Stdout())

			got := mustRead(t, id)
			assert.Equal(t, len(tt.msg), len(got), "Read returned %d bytes, the other process wrote %d", len(got), len(tt.msg))
			assert.True(t, bytes.Equal(tt.msg, got), "Read must return exactly the bytes written (zero bytes included: the length says where the message ends, not a 0 byte)")

			r := ipctest.StartHelper(t, "read", strconv.Itoa(id))
			line := r.Expect(t, "", 10*time.Second)
			assert.Equal(t, "read "+hex.EncodeToString(tt.msg), line, "another process's Read must see the same message")
		})
	}
}

// Write must use the agreed layout, or a reader written by someone else (in C, say)
// reads garbage.
func TestLayout(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, segSize, 0o600)
	msg := []byte("layout")
	require.NoError(t, Write(id, msg), "Write must succeed")

	b := ipctest.Attach(t, id, unix.SHM_RDONLY)
	assert.Equal(t, uint32(len(msg)), binary.LittleEndian.Uint32(b[:HeaderSize]), "the first 4 bytes are the length, little-endian")
	assert.Equal(t, string(msg), string(b[HeaderSize:HeaderSize+len(msg)]), "the message follows the header at offset 4")
}

func TestWriteRefusesTooLong(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, segSize, 0o600)
	err := Write(id, bytes.Repeat([]byte{'y'}, segSize-HeaderSize+1))
	require.Error(t, err, "a message one byte longer than the space after the header must be refused")
	assert.ErrorIs(t, err, ErrTooLong)

	b := ipctest.Attach(t, id, unix.SHM_RDONLY)
	assert.Equal(t, make([]byte, segSize), []byte(b), "a refused Write must leave the segment as it was (all zeros here)")
}

func TestReadRefusesCorruptHeader(t *testing.T) {
	tests := []struct {
		length uint32
		why    string
	}{
		{segSize - HeaderSize + 1, "one byte more than fits after the header"},
		{0xffffffff, "garbage in the header: slicing with it would panic"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.length), func(t *testing.T) {
			ipctest.NoLeaks(t)
			id := ipctest.NewSegment(t, segSize, 0o600)
			b := ipctest.Attach(t, id, 0)
			binary.LittleEndian.PutUint32(b, tt.length)

			var got []byte
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("Read panicked on a header of %d (%s): %v; check the length against the segment before slicing", tt.length, tt.why, r)
					}
				}()
				got, err = Read(id)
			}()
			require.Error(t, err, "Read returned %d bytes for a header of %d: %s", len(got), tt.length, tt.why)
			assert.ErrorIs(t, err, ErrCorrupt)
		})
	}
}

// mustRead calls Read and returns a copy of what it returned, made while faults
// are panics: if Read returned bytes that point into the detached segment, using
// them would otherwise kill the test binary (and leave its segments behind).
func mustRead(t *testing.T, id int) (out []byte) {
	t.Helper()
	got, err := Read(id)
	require.NoError(t, err, "Read(%d) must succeed", id)

	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("using the bytes Read returned faulted (%v): they point into the segment Read detached; copy them out before detaching", r)
		}
	}()
	return append([]byte{}, got...)
}

// Read must return a copy: after the detach, the segment's pages are no longer
// mapped, and a slice pointing into them would fault when used.
func TestReadReturnsACopy(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, segSize, 0o600)
	require.NoError(t, Write(id, []byte("still here")), "Write must succeed")
	assert.Equal(t, "still here", string(mustRead(t, id)))
}

// Write and Read detach what they attach, and Read attaches read-only.
func TestDetachesAfterwards(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, segSize, 0o600)
	require.NoError(t, Write(id, []byte("x")), "Write must succeed")
	mustRead(t, id)

	s, ok, err := procsysv.FindShm(id)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, 0, s.Nattch, "after Write and Read return, nothing may stay attached (nattch 0): every shmat needs its shmdt")
}

// Read needs only read permission: it attaches with SHM_RDONLY. A process of
// another user, allowed to read but not to write, must be able to Read.
func TestReadNeedsOnlyReadPermission(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, segSize, 0o644) // others: read only
	require.NoError(t, Write(id, []byte("for your eyes")), "Write must succeed")

	const nobody = 65534
	p := ipctest.StartHelperAs(t, nobody, nobody, "read", strconv.Itoa(id))
	line := p.Expect(t, "", 10*time.Second)
	if strings.Contains(line, "permission denied") {
		t.Fatalf("a reader with read permission only got %q: attach with unix.SHM_RDONLY; without it shmat asks for read and write permission", line)
	}
	assert.Equal(t, "read "+hex.EncodeToString([]byte("for your eyes")), line)
}
