//go:build linux

package perms

import (
	"fmt"
	"os"
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

func TestMain(m *testing.M) {
	// Another process, which knows nothing but the id, attaches the segment and
	// writes into it.
	ipctest.Helper("attach-and-write", func(args []string) int {
		id, _ := strconv.Atoi(args[0])
		b, err := unix.SysvShmAttach(id, 0, 0)
		if err != nil {
			fmt.Println("shmat:", err)
			return 1
		}
		defer unix.SysvShmDetach(b)
		copy(b, fmt.Sprintf("hello from pid %d", os.Getpid()))
		fmt.Println("written")
		return 0
	})
	ipctest.Main(m, nil)
}

// removeOwn removes segment id when the test ends, if this test process created
// it: a wrong id from CreatePrivate must not remove somebody else's segment.
func removeOwn(t *testing.T, id int) {
	t.Cleanup(func() {
		if s, ok, err := procsysv.FindShm(id); err == nil && ok && s.CPID == os.Getpid() {
			_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
		}
	})
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in   string
		want int
		why  string
	}{
		{"rw-------", 0o600, "read (4) + write (2) for the owner is 6: the usual choice"},
		{"rw-r-----", 0o640, "the group may read"},
		{"rw-r--r--", 0o644, "everyone may read; 6 is read+write, not read+write+execute (that is 7)"},
		{"rw-rw-rw-", 0o666, "everyone may write: rarely what you want"},
		{"r--------", 0o400, "read only, even for the owner"},
		{"rwxr-x--x", 0o751, "x is 1; shmget keeps the bit, and shmat checks it when asked for SHM_EXEC"},
		{"---------", 0o000, "no permission at all is still a valid mode"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMode(tt.in)
			require.NoError(t, err, "ParseMode(%q) must succeed", tt.in)
			assert.Equal(t, fmt.Sprintf("%#o", tt.want), fmt.Sprintf("%#o", got), "ParseMode(%q): %s", tt.in, tt.why)
		})
	}
}

func TestParseModeRefuses(t *testing.T) {
	tests := []struct{ in, why string }{
		{"", "an empty string"},
		{"rw-r--r-", "8 characters: one permission is missing"},
		{"rw-r--r--x", "10 characters: ls -l's leading file type does not belong here"},
		{"wr-------", "w in the place of r: each position has one letter"},
		{"rw-r--r-w", "w in the place of x"},
		{"RW-------", "upper case is not how ls prints it"},
		{"rw-r--r-?", "an unknown character"},
		{"0644", "an octal number is not a permission string"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMode(tt.in)
			require.Error(t, err, "ParseMode(%q) returned %#o, but must refuse it: %s", tt.in, got, tt.why)
			assert.NotContains(t, err.Error(), "TODO", "ParseMode still returns the stub's error")
		})
	}
}

func TestCreatePrivate(t *testing.T) {
	page := os.Getpagesize()
	tests := []struct {
		size      int
		perm      string
		wantPages int
		why       string
	}{
		{1, "rw-------", 1, "one byte still takes a whole page"},
		{page, "rw-r-----", 1, "exactly one page"},
		{page + 1, "rw-r--r--", 2, "one byte more than a page takes two"},
		{3*page - 1, "rw-------", 3, "sizes are rounded up to whole pages, never down"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d bytes %s", tt.size, tt.perm), func(t *testing.T) {
			ipctest.NoLeaks(t)
			id, pages, err := CreatePrivate(tt.size, tt.perm)
			require.NoError(t, err, "CreatePrivate(%d, %q) must succeed", tt.size, tt.perm)
			removeOwn(t, id)

			s, ok, err := procsysv.FindShm(id)
			require.NoError(t, err)
			require.True(t, ok, "CreatePrivate returned id %d, but /proc/sysvipc/shm has no segment with that id", id)
			assert.Equal(t, "0x00000000", s.Key.String(), "the key of a segment made with IPC_PRIVATE is 0")
			assert.Equal(t, uint64(tt.size), s.Size, "shm_segsz (ipcs 'bytes') is the size asked for, not rounded up")
			wantMode, _ := strconv.ParseInt(strings.NewReplacer("r", "1", "w", "1", "x", "1", "-", "0").Replace(tt.perm), 2, 32)
			assert.Equal(t, fmt.Sprintf("%#o", wantMode), fmt.Sprintf("%#o", s.Mode&0o777), "the segment's permission bits must be %s", tt.perm)
			assert.Equal(t, tt.wantPages, pages, "pages for %d bytes with %d-byte pages: %s", tt.size, page, tt.why)

			// The kernel deals in whole pages: touch every byte of the segment and
			// the memory behind it is a whole number of pages.
			b := ipctest.Attach(t, id, 0)
			for i := range b {
				b[i] = 1
			}
			s, _, err = procsysv.FindShm(id)
			require.NoError(t, err)
			assert.Equal(t, uint64(tt.wantPages*page), s.RSS, "the kernel's resident size (rss in /proc/sysvipc/shm) of the touched segment")
		})
	}
}

// IPC_PRIVATE does not make a segment private: any process that learns the id and
// passes the permission check can attach it.
func TestPrivateIsNotPrivate(t *testing.T) {
	ipctest.NoLeaks(t)
	id, _, err := CreatePrivate(64, "rw-------")
	require.NoError(t, err, "CreatePrivate(64, \"rw-------\") must succeed")
	removeOwn(t, id)

	p := ipctest.StartHelper(t, "attach-and-write", strconv.Itoa(id))
	p.Expect(t, "written", 10*time.Second)
	require.Equal(t, 0, p.Wait(t).ExitCode)

	b := ipctest.Attach(t, id, unix.SHM_RDONLY)
	want := fmt.Sprintf("hello from pid %d", p.Pid())
	assert.Equal(t, want, string(b[:len(want)]), "another process attached the IPC_PRIVATE segment by its id and wrote into it")
}

func TestCreatePrivateRefuses(t *testing.T) {
	tests := []struct {
		size int
		perm string
		why  string
	}{
		{0, "rw-------", "size 0 cannot create a segment: shmget says EINVAL"},
		{-4096, "rw-------", "a negative size"},
		{64, "rw-r--r-", "a bad permission string must be refused before creating anything"},
	}
	for _, tt := range tests {
		t.Run(tt.why, func(t *testing.T) {
			ipctest.NoLeaks(t)
			id, _, err := CreatePrivate(tt.size, tt.perm) // NoLeaks removes anything it made
			require.Error(t, err, "CreatePrivate(%d, %q) returned id %d: %s", tt.size, tt.perm, id, tt.why)
			assert.NotContains(t, err.Error(), "TODO", "CreatePrivate still returns the stub's error")
		})
	}
}
