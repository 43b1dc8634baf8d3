//go:build linux

package appendtrap

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
)

func TestMain(m *testing.M) {
	// The writing process: it knows only the segment's id, and appends the lines it
	// is given, printing how each Append went.
	ipctest.Helper("append", func(args []string) int {
		id, _ := strconv.Atoi(args[0])
		seg, err := unix.SysvShmAttach(id, 0, 0)
		if err != nil {
			fmt.Println("error: shmat:", err)
			return 1
		}
		defer unix.SysvShmDetach(seg)
		for _, line := range args[1:] {
			switch err := Append(seg, line); {
			case err == nil:
				fmt.Println("ok")
			case errors.Is(err, ErrFull):
				fmt.Println("full")
			default:
				fmt.Println("error:", err)
			}
		}
		return 0
	})
	ipctest.Main(m, nil)
}

// room is the size of the logs below: the bytes after the header.
const room = 32

// appendInAnotherProcess runs the writing process on segment id and returns what
// Append said for each line: "ok", "full" or "error: ...".
func appendInAnotherProcess(t *testing.T, id int, lines ...string) []string {
	t.Helper()
	r := ipctest.RunHelper(t, "append", append([]string{strconv.Itoa(id)}, lines...)...)
	require.Equal(t, 0, r.ExitCode, "the writing process failed:\n%s%s", r.Stdout, r.Stderr)
	return strings.Fields(r.Stdout)
}

// trap is the message for the bug the stub ships with: an Append that returns nil
// for a line that cannot fit.
func trap(used, need int) string {
	return fmt.Sprintf("TODO: fix the append trap in Append (README.md). The log had %d of its %d bytes free, the line needs %d, "+
		"and Append returned nil: append found no spare capacity in the slice (an attached segment's slice ends where the segment ends), "+
		"so it copied the log to the Go heap and wrote the line there, where no other process will ever see it. "+
		"Check the room first, write into the segment, and return ErrFull when the line does not fit",
		room-used, room, need)
}

// While the log has room, the stub's Append works: another process's lines arrive.
func TestAnotherProcessReadsTheLines(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, HeaderSize+room, 0o600)
	assert.Equal(t, []string{"ok", "ok", "ok"}, appendInAnotherProcess(t, id, "one", "two", "three"))

	seg := ipctest.Attach(t, id, unix.SHM_RDONLY)
	lines, err := Lines(seg)
	require.NoError(t, err)
	assert.Equal(t, []string{"one", "two", "three"}, lines, "the lines another process appended, in order")
	used, err := Used(seg)
	require.NoError(t, err)
	assert.Equal(t, len("one\ntwo\nthree\n"), used, "the header counts the bytes of the lines and their newlines")
}

// When a line does not fit, the writer must hear so: the reader never sees it.
func TestAFullLogRefusesTheLine(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, HeaderSize+room, 0o600)
	got := appendInAnotherProcess(t, id, "0123456789", "abcdefghij", "ABCDEFGHIJ") // 11 bytes each, with the newline
	require.Len(t, got, 3, "the writing process printed %q", got)
	assert.Equal(t, []string{"ok", "ok"}, got[:2], "two lines of 11 bytes fit in %d", room)
	if got[2] == "ok" {
		t.Fatal(trap(22, 11))
	}
	assert.Equal(t, "full", got[2], "the third line needs 11 bytes and 10 are free: Append must return an error that wraps ErrFull")

	seg := ipctest.Attach(t, id, unix.SHM_RDONLY)
	lines, err := Lines(seg)
	require.NoError(t, err, "the reading process must still find a sound log")
	assert.Equal(t, []string{"0123456789", "abcdefghij"}, lines)
}

// A line that fills the log to its last byte fits; after it, even an empty line
// (one newline) does not.
func TestTheLastByte(t *testing.T) {
	ipctest.NoLeaks(t)
	seg := ipctest.Attach(t, ipctest.NewSegment(t, HeaderSize+room, 0o600), 0)
	for _, line := range []string{"0123456789", "abcdefghij", "123456789"} { // 11 + 11 + 10 = 32
		require.NoError(t, Append(seg, line), "Append(%q) must succeed: it fits", line)
	}
	used, err := Used(seg)
	require.NoError(t, err)
	require.Equal(t, room, used, "the three lines fill the log exactly")

	err = Append(seg, "")
	if err == nil {
		t.Fatal(trap(room, 1))
	}
	assert.ErrorIs(t, err, ErrFull, "an empty line still needs its newline, and no byte is free")
}

// A refused Append must leave every byte of the segment as it was: the header, and
// the bytes after the lines, which another process may be reading.
func TestARefusedAppendChangesNothing(t *testing.T) {
	tests := []struct {
		line string
		why  string
	}{
		{"0123456789ABCDEFGHIJ", "it needs 21 bytes and 11 are free"},
		{"0123456789A", "with its newline it needs 12 bytes, one more than is free: the line alone would fit, the newline would not"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			ipctest.NoLeaks(t)
			seg := ipctest.Attach(t, ipctest.NewSegment(t, HeaderSize+room, 0o600), 0)
			require.NoError(t, Append(seg, "0123456789abcdefghij")) // 21 bytes, 11 free
			before := append([]byte{}, seg...)

			err := Append(seg, tt.line)
			if err == nil {
				t.Fatal(trap(21, len(tt.line)+1))
			}
			assert.ErrorIs(t, err, ErrFull, "Append(%q): %s", tt.line, tt.why)
			assert.Equal(t, before, []byte(seg), "Append(%q) was refused, so the segment must be as it was: check the room before writing any byte", tt.line)
		})
	}
}

func TestNewlinesAreRefused(t *testing.T) {
	ipctest.NoLeaks(t)
	seg := ipctest.Attach(t, ipctest.NewSegment(t, HeaderSize+room, 0o600), 0)
	assert.ErrorIs(t, Append(seg, "two\nlines"), ErrNewline, "a newline would split the line in two for every reader")
}

// The trap in three lines: the slice of an attached segment has no spare capacity,
// so append must copy it to the Go heap, and the segment never sees the new byte.
func Example_theTrap() {
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|0o600)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	seg, err := unix.SysvShmAttach(id, 0, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer unix.SysvShmDetach(seg)

	grown := append(seg, 'x')
	fmt.Println("cap == len:", cap(seg) == len(seg))
	fmt.Println("same memory after append:", &grown[0] == &seg[0])
	// Output:
	// cap == len: true
	// same memory after append: false
}
