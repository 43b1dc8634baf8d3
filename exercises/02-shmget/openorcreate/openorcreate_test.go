//go:build linux

package openorcreate

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/procsysv"
)

func TestMain(m *testing.M) {
	// A separate process that calls Open and prints what it got.
	ipctest.Helper("open", func(args []string) int {
		key, _ := strconv.ParseInt(args[0], 10, 32)
		size, _ := strconv.Atoi(args[1])
		seg, err := Open(ftok.Key(key), size, 0o600)
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		fmt.Printf("id %d created %t\n", seg.ID, seg.Created)
		return 0
	})
	ipctest.Main(m, nil)
}

// newKey returns an unused key and removes, when the test ends, every segment that
// has that key, whoever made it (your code or the test): the key is the test's own,
// made from a file in its temporary directory.
func newKey(t *testing.T) ftok.Key {
	t.Helper()
	key, _ := ipctest.UnusedKey(t)
	t.Cleanup(func() {
		for _, s := range withKey(t, key) {
			_, _ = unix.SysvShmCtl(s.ID, unix.IPC_RMID, nil)
		}
	})
	return key
}

// withKey lists the segments that have key, from /proc/sysvipc/shm.
func withKey(t *testing.T, key ftok.Key) []procsysv.Shm {
	t.Helper()
	all, err := procsysv.ReadShm()
	require.NoError(t, err)
	var list []procsysv.Shm
	for _, s := range all {
		if s.Key == key {
			list = append(list, s)
		}
	}
	return list
}

// create makes the segment for key as another program would.
func create(t *testing.T, key ftok.Key, size int, perm int) int {
	t.Helper()
	id, err := unix.SysvShmGet(int(key), size, unix.IPC_CREAT|unix.IPC_EXCL|perm)
	require.NoError(t, err, "the test's own shmget(%v, %d)", key, size)
	return id
}

func TestOpenCreatesWhenMissing(t *testing.T) {
	tests := []struct {
		size int
		perm int
	}{
		{1, 0o600},
		{4096, 0o640},
		{10000, 0o644},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d bytes %#o", tt.size, tt.perm), func(t *testing.T) {
			ipctest.NoLeaks(t)
			key := newKey(t)
			seg, err := Open(key, tt.size, tt.perm)
			require.NoError(t, err, "Open(%v, %d, %#o) with no segment for the key must create one", key, tt.size, tt.perm)
			assert.True(t, seg.Created, "no segment existed, so this Open created it: Created must be true, so that the caller knows to initialise it")

			list := withKey(t, key)
			require.Len(t, list, 1, "want exactly one segment with key %v in /proc/sysvipc/shm", key)
			s := list[0]
			assert.Equal(t, s.ID, seg.ID, "Segment.ID must be the id shmget returned")
			assert.Equal(t, uint64(tt.size), s.Size, "the segment must have the size asked for (ipcs shows it in 'bytes')")
			assert.Equal(t, fmt.Sprintf("%#o", tt.perm), fmt.Sprintf("%#o", s.Mode&0o777),
				"the permission bits are the low 9 bits of shmflg: IPC_CREAT|IPC_EXCL|perm")
		})
	}
}

func TestOpenOpensExisting(t *testing.T) {
	tests := []struct {
		existing, asked int
		why             string
	}{
		{8192, 8192, "the same size as the existing segment"},
		{8192, 100, "a smaller size than the existing segment is fine: the caller gets at least what it asked for"},
	}
	for _, tt := range tests {
		t.Run(tt.why, func(t *testing.T) {
			ipctest.NoLeaks(t)
			key := newKey(t)
			id := create(t, key, tt.existing, 0o600)

			seg, err := Open(key, tt.asked, 0o644)
			require.NoError(t, err, "Open(%v, %d) must open the existing segment of %d bytes", key, tt.asked, tt.existing)
			assert.False(t, seg.Created, "the segment existed before: Created must be false, or the caller would initialise it a second time over another process's data")
			assert.Equal(t, id, seg.ID, "Open must return the existing segment's id")

			list := withKey(t, key)
			require.Len(t, list, 1, "Open must not create a second segment")
			assert.Equal(t, uint64(tt.existing), list[0].Size, "opening does not resize a segment")
			assert.Equal(t, "0600", fmt.Sprintf("%04o", list[0].Mode&0o777), "opening never changes the permissions: perm only applies to a segment Open creates")
		})
	}
}

func TestOpenRefusesTooSmall(t *testing.T) {
	ipctest.NoLeaks(t)
	key := newKey(t)
	create(t, key, 100, 0o600)

	seg, err := Open(key, 4096, 0o600)
	require.Error(t, err, "Open(%v, 4096) returned %+v: the existing segment has only 100 bytes; writing 4096 would fault", key, seg)
	assert.ErrorIs(t, err, ErrTooSmall, "the error must wrap ErrTooSmall, so callers can tell this case apart")
	assert.ErrorIs(t, err, unix.EINVAL, "shmget itself says EINVAL when size is larger than the existing segment: wrap it")
	assert.NotContains(t, err.Error(), "TODO", "Open still returns the stub's error")
	assert.Contains(t, err.Error(), fmt.Sprintf("shmget(%v, 4096, 0)", key),
		"the error says which call failed, with its arguments as C spells them: shmget(key, size, flags), the key as ipcs prints it (%%v)")

	list := withKey(t, key)
	require.Len(t, list, 1, "refusing must not create another segment")
	assert.Equal(t, uint64(100), list[0].Size, "refusing must leave the existing segment alone")
}

func TestOpenExisting(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		ipctest.NoLeaks(t)
		key := newKey(t)
		seg, err := OpenExisting(key)
		require.Error(t, err, "OpenExisting(%v) returned %+v, but no segment has that key", key, seg)
		assert.ErrorIs(t, err, unix.ENOENT, "shmget without IPC_CREAT says ENOENT when no segment has the key: wrap it")
		assert.ErrorIs(t, err, fs.ErrNotExist, "unix.ENOENT matches fs.ErrNotExist when it is wrapped with %%w")
		assert.Contains(t, err.Error(), fmt.Sprintf("shmget(%v, ", key),
			"the error says which call failed, with its arguments as C spells them: shmget(key, size, flags), the key as ipcs prints it (%%v)")
		assert.Empty(t, withKey(t, key), "OpenExisting must never create a segment")
	})
	t.Run("present", func(t *testing.T) {
		ipctest.NoLeaks(t)
		key := newKey(t)
		id := create(t, key, 64, 0o600)
		seg, err := OpenExisting(key)
		require.NoError(t, err, "OpenExisting(%v) must open the segment that exists", key)
		assert.Equal(t, Segment{ID: id, Created: false}, seg)
	})
}

func TestOpenBadArguments(t *testing.T) {
	tests := []struct {
		size, perm int
		why        string
	}{
		{0, 0o600, "size 0 cannot create a segment (shmget says EINVAL)"},
		{-1, 0o600, "a negative size is a bug in the caller"},
		{64, 0o1600, "01000 is not a permission bit"},
		{64, unix.IPC_CREAT | 0o600, "perm must not smuggle in IPC_CREAT or other flags: Open decides the flags"},
	}
	for _, tt := range tests {
		t.Run(tt.why, func(t *testing.T) {
			ipctest.NoLeaks(t)
			key := newKey(t)
			seg, err := Open(key, tt.size, tt.perm)
			require.Error(t, err, "Open(%v, %d, %#o) returned %+v: %s", key, tt.size, tt.perm, seg, tt.why)
			assert.NotContains(t, err.Error(), "TODO", "Open still returns the stub's error")
			assert.Empty(t, withKey(t, key), "a refused call must not create anything")
		})
	}
}

// Several processes call Open on the same key at the same moment: exactly one of
// them must be told it created the segment, and all must get the same one.
func TestOneCreatorAmongProcesses(t *testing.T) {
	ipctest.NoLeaks(t)
	key := newKey(t)
	const n = 4
	procs := make([]*ipctest.Proc, n)
	for i := range procs {
		procs[i] = ipctest.StartHelper(t, "open", strconv.Itoa(int(key)), "4096")
	}
	creators := 0
	ids := map[string]bool{}
	for i, p := range procs {
		line := p.Expect(t, "", 10*time.Second)
		r := p.Wait(t)
		require.Equal(t, 0, r.ExitCode, "process %d: Open failed: %s%s", i, r.Stdout, r.Stderr)
		f := strings.Fields(line) // "id N created B"
		require.Len(t, f, 4, "unexpected output %q", line)
		ids[f[1]] = true
		if f[3] == "true" {
			creators++
		}
	}
	assert.Equal(t, 1, creators, "exactly one of %d processes racing to Open the same key may be told Created: use IPC_CREAT|IPC_EXCL, whose EEXIST tells the others they lost", n)
	assert.Len(t, ids, 1, "every process must get the same segment")
	assert.Len(t, withKey(t, key), 1, "one key, one segment")
}
