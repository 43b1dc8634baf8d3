//go:build linux

package procsysv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
)

// Lines as Linux 6.18 prints them (ipc/shm.c sysvipc_shm_proc_show, ipc/sem.c).
const shmTable = `       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap
1090584628          3  1600                   100  4242  4243      2  1000  1000     0     0 1764100000 1764100001 1764099999                  4096                     0
         0          4   644                  8192   11    0      0     0     0     0     0          0          0 1764100002                     0                     0
-2130706431          5   600                     1    1    1      0     0     0     0     0          0          0          0                     0                     0
`

const semTable = `       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime
1090584628          7   600          2     0     0     0     0          0 1764100000
`

func writeTable(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "table")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

func TestReadShmParsesEveryField(t *testing.T) {
	old := ShmPath
	defer func() { ShmPath = old }()
	ShmPath = writeTable(t, shmTable)

	list, err := ReadShm()
	require.NoError(t, err)
	require.Len(t, list, 3)
	assert.Equal(t, Shm{
		Key: ftok.Key(0x41010034), ID: 3, Mode: 0o1600, Size: 100, CPID: 4242, LPID: 4243, Nattch: 2,
		UID: 1000, GID: 1000, Atime: 1764100000, Dtime: 1764100001, Ctime: 1764099999, RSS: 4096,
	}, list[0])
	assert.Equal(t, uint32(0o644), list[1].Mode, "perms are octal")
	assert.Equal(t, "0x81000001", list[2].Key.String(), "negative decimal keys are the high-bit keys ipcs prints in hex")
}

func TestReadSem(t *testing.T) {
	old := SemPath
	defer func() { SemPath = old }()
	SemPath = writeTable(t, semTable)

	list, err := ReadSem()
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, Sem{Key: ftok.Key(0x41010034), ID: 7, Mode: 0o600, NSems: 2, Ctime: 1764100000}, list[0])
}

func TestShortLineIsAnError(t *testing.T) {
	old := ShmPath
	defer func() { ShmPath = old }()
	ShmPath = writeTable(t, "header\n1 2 3\n")
	_, err := ReadShm()
	assert.ErrorContains(t, err, "want at least 16")
}

// The parser against the real kernel: a segment we create appears with its size,
// our pid and our uid.
func TestFindShmSeesARealSegment(t *testing.T) {
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 1000, unix.IPC_CREAT|0o640)
	require.NoError(t, err)
	defer unix.SysvShmCtl(id, unix.IPC_RMID, nil)

	s, ok, err := FindShm(id)
	require.NoError(t, err)
	require.True(t, ok, "segment %d not in %s", id, ShmPath)
	assert.Equal(t, uint64(1000), s.Size)
	assert.Equal(t, os.Getpid(), s.CPID)
	assert.Equal(t, uint32(os.Geteuid()), s.UID)
	assert.Equal(t, uint32(0o640), s.Mode&0o777)
	assert.Equal(t, ftok.Private, s.Key)
}
