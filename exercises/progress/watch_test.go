//go:build linux

package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// A progress process started by a test, with its output read line by line.
type progressProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	mu     sync.Mutex
	stdout strings.Builder
	stderr bytes.Buffer
	done   chan struct{}
}

// startProgress runs progress with args in dir, as a separate process (this test
// binary, running main).
func startProgress(t *testing.T, dir string, env []string, args ...string) *progressProc {
	t.Helper()
	needGo(t)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), envRunMain+"=1"), env...)
	p := &progressProc{cmd: cmd, lines: make(chan string, 1000), done: make(chan struct{})}
	var err error
	p.stdin, err = cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = &p.stderr
	require.NoError(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			p.lines <- sc.Text()
		}
		_ = cmd.Wait()
		close(p.lines)
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

// expect waits for a line containing want.
func (p *progressProc) expect(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(60 * time.Second) // go test builds the packages: slow on a busy machine
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				t.Fatalf("progress ended before printing %q\nstdout:\n%s\nstderr:\n%s", want, p.out(), p.stderr.String())
			}
			if strings.Contains(line, want) {
				return
			}
		case <-deadline:
			t.Fatalf("progress did not print %q\nstdout so far:\n%s", want, p.out())
		}
	}
}

func (p *progressProc) out() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

// wait waits for the process to end and returns its exit status.
func (p *progressProc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("progress did not end\nstdout:\n%s", p.out())
	}
	return p.cmd.ProcessState.ExitCode()
}

func TestWatchGoesOnWhenAnExercisePasses(t *testing.T) {
	root := t.TempDir()
	smallCourse(t, root)
	p := startProgress(t, root, nil, "watch")
	p.expect(t, "Checking every exercise once")
	p.expect(t, "== 01-x/first: read 01-x/first/README.md")
	p.expect(t, "01-x/first not started: 0/1 passing")
	p.expect(t, "TODO: implement Answer (read README.md, then HINTS.md)")
	p.expect(t, "Waiting for you to save a file in 01-x/first/")

	writeTree(t, root, map[string]string{"01-x/first/first.go": "package first\n\nfunc Answer() (int, error) { return 41, nil }\n"})
	p.expect(t, "01-x/first failing: 0/1 passing")
	p.expect(t, "TestAnswer: Answer() = 41, want 42: the answer to everything")

	writeTree(t, root, map[string]string{"01-x/first/first.go": solutionOf("first")})
	p.expect(t, "01-x/first passes: 1/1 passing. Well done!")
	p.expect(t, "== 01-x/second")
	p.expect(t, "01-x/second not started: 0/1 passing")

	_, err := io.WriteString(p.stdin, "h\n")
	require.NoError(t, err)
	p.expect(t, "Hint 1 of 2, 01-x/second:")
	_, err = io.WriteString(p.stdin, "\n")
	require.NoError(t, err)
	p.expect(t, "01-x/second not started: 0/1 passing") // Enter runs them again

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
	assert.Equal(t, 130, p.wait(t), "Ctrl-C: exit status 130\nstdout:\n%s\nstderr:\n%s", p.out(), p.stderr.String())
	lines := strings.Split(strings.TrimSpace(p.out()), "\n")
	assert.Equal(t, "progress watch: stopped by interrupt", lines[len(lines)-1])
	assert.Empty(t, p.stderr.String())
}

func TestWatchQuitsOnQ(t *testing.T) {
	root := t.TempDir()
	smallCourse(t, root)
	p := startProgress(t, root, nil, "watch", "second")
	p.expect(t, "01-x/second not started")
	_, err := io.WriteString(p.stdin, "q\n")
	require.NoError(t, err)
	assert.Equal(t, 0, p.wait(t))
	assert.Contains(t, p.out(), "Bye.")
	assert.NotContains(t, p.out(), "01-x/first", "watch NAME starts at that exercise")
}

// A test that holds a segment while Ctrl-C comes: watch lets it finish, so the
// segment is removed by the test itself, and nothing is left in ipcs.
func TestWatchCtrlCLeavesNothing(t *testing.T) {
	root := t.TempDir()
	smallCourse(t, root)
	marker := filepath.Join(t.TempDir(), "segment")
	writeTree(t, root, map[string]string{"01-x/second/second_test.go": `package second

import (
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestAnswer(t *testing.T) {
	// shmget(IPC_PRIVATE, 4096, IPC_CREAT|0600), removed when the test ends.
	id, _, errno := syscall.Syscall(syscall.SYS_SHMGET, 0, 4096, 0o1000|0o600)
	if errno != 0 {
		t.Fatal(errno)
	}
	defer syscall.Syscall(syscall.SYS_SHMCTL, id, 0, 0)
	if err := os.WriteFile(os.Getenv("SEGMENT_FILE"), []byte(strconv.Itoa(int(id))), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if _, err := Answer(); err != nil {
		t.Fatal(err)
	}
}
`})
	p := startProgress(t, root, []string{"SEGMENT_FILE=" + marker}, "watch", "01-x/second")

	var id int
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, err := os.ReadFile(marker)
		if err == nil && len(b) > 0 {
			id, err = strconv.Atoi(string(b))
			require.NoError(t, err)
			break
		}
		require.True(t, time.Now().Before(deadline), "the exercise's test never started\n%s", p.out())
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) })

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT)) // what Ctrl-C sends watch
	p.expect(t, "Letting the tests finish, so that they remove what they created")
	assert.Equal(t, 130, p.wait(t), "stdout:\n%s\nstderr:\n%s", p.out(), p.stderr.String())
	var ds unix.SysvShmDesc
	_, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds)
	assert.True(t, errors.Is(err, unix.EINVAL), "segment %d is still there after watch stopped: %v", id, err)
	assert.NotContains(t, p.out(), "01-x/second not started", "no result is shown after Ctrl-C")
}

func TestSnapshotIgnoresEditorFiles(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a.go": "package a\n"})
	before := snapshot(dir)
	writeTree(t, dir, map[string]string{".a.go.swp": "vim", "a.go~": "backup", "sub/.hidden": "x"})
	assert.True(t, equal(before, snapshot(dir)), "an editor's swap and backup files do not count as changes")
	writeTree(t, dir, map[string]string{"a.go": "package a // edited\n"})
	assert.False(t, equal(before, snapshot(dir)), "saving a file is a change")
}
