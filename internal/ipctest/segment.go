//go:build linux

package ipctest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
// directory, that no segment or semaphore set uses now, and the file's path. The
// key is recorded as the run's until the test ends: a semaphore set made under it
// meanwhile that no process has operated on yet counts as the run's (see ClaimSet).
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
			logKey(t, key)
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

// foreignSegmentHelper is the helper process ForeignSegment runs: it creates a
// segment and leaves it, printing its id.
const foreignSegmentHelper = "ipctest-foreign-segment"

func init() {
	Helper(foreignSegmentHelper, func(args []string) int {
		var size, mode int
		if len(args) != 2 {
			fmt.Fprintln(os.Stderr, "usage: ipctest-foreign-segment SIZE MODE")
			return 2
		}
		if _, err := fmt.Sscan(args[0], &size); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if _, err := fmt.Sscanf(args[1], "%o", &mode); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		id, err := unix.SysvShmGet(unix.IPC_PRIVATE, size, unix.IPC_CREAT|unix.IPC_EXCL|mode)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(id)
		return 0
	})
}

// ForeignSegment returns the id of a new IPC_PRIVATE segment of size bytes with the
// permission bits mode, created by another process (a helper that has exited by the
// time ForeignSegment returns): a segment that a lesson's role must refuse to touch,
// because its lesson did not create it. It is removed when the test ends.
func ForeignSegment(t testing.TB, size, mode int) int {
	t.Helper()
	r := RunHelper(t, foreignSegmentHelper, strconv.Itoa(size), fmt.Sprintf("%o", mode))
	if r.ExitCode != 0 {
		t.Fatalf("a helper process could not create a segment: exit status %d, %s", r.ExitCode, r.Stderr)
	}
	id, err := strconv.Atoi(strings.TrimSpace(r.Stdout))
	if err != nil {
		t.Fatalf("the helper process printed %q, not a segment id", r.Stdout)
	}
	t.Cleanup(func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
	return id
}
