//go:build linux

package ipctest

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/procsysv"
)

// NewSegment creates a new IPC_PRIVATE segment of size bytes with the permission
// bits mode and removes it when the test ends.
func NewSegment(t testing.TB, size int, mode int) int {
	t.Helper()
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, size, unix.IPC_CREAT|unix.IPC_EXCL|mode)
	if err != nil {
		t.Fatalf("shmget(IPC_PRIVATE, %d, IPC_CREAT|IPC_EXCL|%#o): %v", size, mode, err)
	}
	t.Cleanup(func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
	return id
}

// Attach attaches segment id with flags (0 or unix.SHM_RDONLY) and detaches it
// when the test ends.
func Attach(t testing.TB, id int, flags int) []byte {
	t.Helper()
	b, err := unix.SysvShmAttach(id, 0, flags)
	if err != nil {
		t.Fatalf("shmat(%d, NULL, %#x): %v", id, flags, err)
	}
	t.Cleanup(func() { _ = unix.SysvShmDetach(b) })
	return b
}

// UnusedKey returns a key, made with ftok from a file in the test's temporary
// directory, that no segment or semaphore set uses now, and the file's path.
func UnusedKey(t testing.TB) (ftok.Key, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for proj := 1; proj < 256; proj++ {
		key, err := ftok.Ftok(path, proj)
		if err != nil {
			t.Fatal(err)
		}
		if !keyInUse(t, key) {
			return key, path
		}
	}
	t.Fatalf("every key for %s is in use", path)
	return 0, ""
}

func keyInUse(t testing.TB, key ftok.Key) bool {
	shms, err := procsysv.ReadShm()
	if err != nil {
		t.Fatal(err)
	}
	sems, err := procsysv.ReadSem()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shms {
		if s.Key == key {
			return true
		}
	}
	for _, s := range sems {
		if s.Key == key {
			return true
		}
	}
	return false
}
