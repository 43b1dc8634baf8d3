//go:build linux

package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/lesson"
)

// ourDevShm lists the POSIX shared memory objects of the process pid in /dev/shm.
func ourDevShm(t *testing.T, pid int) []string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(devShm, posixName(pid)+"*"))
	require.NoError(t, err)
	return matches
}

// The appendix, as a learner runs it: five exchanges, each answered by a separate
// process, and nothing left behind: no segment, no file in /dev/shm, no socket, no
// C program.
func TestAlternatives(t *testing.T) {
	ipctest.NoLeaks(t)
	p := ipctest.StartProgram(t, "alternatives")
	r := p.Wait(t)
	require.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Empty(t, r.Stderr)
	out := r.Stdout

	// Every exchange: the reply came from another process, which read our message.
	ping := fmt.Sprintf("ping from pid %d", p.Pid())
	replies := regexp.MustCompile(`\n-> read back "pong from pid (\d+)"\n`).FindAllStringSubmatch(out, -1)
	require.Len(t, replies, 4, "four exchanges in Go:\n%s", out)
	for _, m := range replies {
		assert.NotEqual(t, strconv.Itoa(p.Pid()), m[1], "the reply comes from a second process")
		assert.Contains(t, out, fmt.Sprintf("   [pid %s] mapped at 0x", m[1]))
	}
	assert.Equal(t, 4, strings.Count(out, `read "`+ping+`"`), "each second process read the message")

	for _, want := range []string{
		"SO_PEERCRED: pid " + strconv.Itoa(p.Pid()),
		"-> /memfd:05-shmctl (deleted)",
		"the size is sealed",
		"F_SEAL_WRITE)\n-> EBUSY",
		"-> /memfd:05-shmctl-inherited (deleted), inherited through exec",
		"shm_unlink(\"/" + posixName(p.Pid()) + "\")",
		"/SYSV00000000 (deleted)",
		"/dev/shm/" + posixName(p.Pid()) + " (deleted)",
		"System V still does best",
	} {
		assert.Contains(t, out, want)
	}
	assert.Regexp(t, `F_GET_SEALS\) -> 0x6 \(F_SEAL_SHRINK\|F_SEAL_GROW\)\n`, out)
	assert.Regexp(t, `write\(\d+, "x", 1\)\n-> EPERM`, out)
	assert.Regexp(t, `mmap\(NULL, 4096, PROT_READ\|PROT_WRITE, MAP_SHARED, \d+, 0\)\n-> EPERM`, out)
	assert.Regexp(t, `r--s 00000000 \S+ \d+ /memfd:05-shmctl \(deleted\)`, out, "read-only after F_SEAL_WRITE")
	if _, err := exec.LookPath("gcc"); err == nil {
		assert.Regexp(t, `child pid (\d+), the same mapping at (0x[0-9a-f]+): read "ping from pid \d+"`, out)
		assert.Regexp(t, `waitpid\(\d+\): read back "pong from pid \d+"`, out)
		assert.Contains(t, out, "/dev/zero (deleted)")
	} else {
		assert.Contains(t, out, "gcc is not installed")
	}

	assert.Empty(t, ourDevShm(t, p.Pid()), "nothing left in /dev/shm")
	for _, re := range []string{`bind\("(/[^"]+)/socket"\)`, `gcc -O2 -Wall -o (/\S+)/anon_shared `} {
		if m := regexp.MustCompile(re).FindStringSubmatch(out); m != nil {
			assert.NoDirExists(t, m[1], "temporary directory removed")
		}
	}
}

// Ctrl-C at the pause before step 4, with a segment, a file in /dev/shm, a memfd and
// a socket in use, removes them all.
func TestAlternativesInterrupted(t *testing.T) {
	ipctest.NoLeaks(t)
	p := ipctest.StartProgram(t, "-step", "alternatives")
	p.StepTo(t, 4)
	require.NotEmpty(t, ourDevShm(t, p.Pid()), "the POSIX object exists at the pause")
	m := regexp.MustCompile(`bind\("(/[^"]+)/socket"\)`).FindStringSubmatch(p.Stdout())
	require.NotNil(t, m, "step 3 printed its socket")
	require.DirExists(t, m[1])
	r := p.Interrupt(t)
	assert.Equal(t, lesson.ExitInterrupted, r.ExitCode, "stderr: %s", r.Stderr)
	assert.NotContains(t, r.Stderr, "cleanup (", "every cleanup succeeds")
	assert.Empty(t, ourDevShm(t, p.Pid()), "the file in /dev/shm is removed on Ctrl-C")
	assert.NoDirExists(t, m[1], "the socket's directory is removed on Ctrl-C")
}

// Flags come first, as in every lesson: one typed after "alternatives" is refused
// with the command line to type instead.
func TestAlternativesFlagsComeFirst(t *testing.T) {
	for _, c := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"alternatives", "-step"}, "-step comes after the arguments, where it is not read as a flag: flags come first (go run ./05-shmctl -step alternatives)"},
		{[]string{"alternatives", "-h"}, "-h comes after the arguments, where it is not read as a flag: flags come first (go run ./05-shmctl -h alternatives)"},
		{[]string{"-id", "5", "alternatives"}, "-id and alternatives do not go together"},
		{[]string{"alternatives", "more"}, `unexpected argument "more" after alternatives`},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			ipctest.AssertOneLineError(t, ipctest.RunProgram(t, c.args...), 2, c.stderr)
		})
	}
	ipctest.AssertUsage(t, ipctest.RunProgram(t, "-h", "alternatives"), "go run ./05-shmctl [-step] alternatives")
}

// helperListen is a separate process that listens on a Unix socket (its argument)
// until its input ends: a socket that is not the lesson's.
const helperListen = "listen"

func listen(args []string) int {
	ln, err := net.Listen("unix", args[0])
	if err != nil {
		return 1
	}
	defer ln.Close()
	os.Stdout.WriteString("listening\n")
	_, _ = os.Stdin.Read(make([]byte, 1))
	return 0
}

// The appendix's roles, started as the lesson starts them, refuse what is not the
// lesson's: a segment another process made, a /dev/shm name of another process, a
// socket another process listens on, a descriptor 3 that is no memfd of the lesson.
func TestAlternativeRolesRefuseForeignObjects(t *testing.T) {
	ipctest.NoLeaks(t)
	id, before := foreignSegment(t)
	// A name of this test run's own: two runs at once share /dev/shm (it is a file
	// system, not part of the IPC namespace).
	foreignName := fmt.Sprintf("05-shmctl-foreign-test-%d", os.Getpid())
	foreignFile := filepath.Join(devShm, foreignName)
	require.NoError(t, os.WriteFile(foreignFile, []byte("not yours"), 0o600))
	t.Cleanup(func() { os.Remove(foreignFile) })
	sock := filepath.Join(t.TempDir(), "socket")
	lp := ipctest.StartHelper(t, helperListen, sock)
	lp.Expect(t, "listening", ipctest.Timeout)
	ipctest.AsRoleParent(t)

	for _, c := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{roleAltSysV, strconv.Itoa(id)}, 1, "was created by pid"},
		{[]string{roleAltPosix, "/" + foreignName}, 1, `"/` + foreignName + `" is not /05-shmctl-` + strconv.Itoa(os.Getpid())},
		{[]string{roleAltPosix, "/" + posixName(os.Getpid())}, 1, "no such file"}, // the right name, but nothing there
		{[]string{roleAltMemfd, sock}, 1, fmt.Sprintf("belongs to pid %d, not to the lesson that started me", lp.Pid())},
		{[]string{roleAltInherit}, 1, "descriptor 3 is not the memfd the lesson passes"},
		{[]string{roleAltSysV}, 2, "alt-sysv takes one argument"},
		{[]string{roleAltMemfd}, 2, "alt-memfd takes one argument"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			r := ipctest.RunProgram(t, c.args...)
			ipctest.AssertOneLineError(t, r, c.status, c.stderr)
			assert.Empty(t, r.Stdout)
		})
	}
	assertUntouched(t, id, before)
	b, err := os.ReadFile(foreignFile)
	require.NoError(t, err)
	assert.Equal(t, "not yours", string(b), "the foreign file is unchanged")
	require.Equal(t, 0, lp.Wait(t).ExitCode)
}

// alt-memfd waits for the descriptor; if the lesson ends first (it closes the role's
// input), the role stops waiting and ends quietly, so that the lesson's cleanup, which
// waits for it, cannot hang, and the lesson's one line is the only one.
func TestAltMemfdStopsWhenTheLessonEnds(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "socket")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer ln.Close()
	ipctest.AsRoleParent(t) // this test is the lesson: SO_PEERCRED names it
	p := ipctest.StartProgram(t, roleAltMemfd, sock)
	p.Expect(t, "@@ CONNECTED", ipctest.Timeout)
	conn, err := ln.Accept()
	require.NoError(t, err)
	defer conn.Close()
	r := p.Wait(t) // closes its input, sends nothing
	assert.Equal(t, 0, r.ExitCode)
	assert.Empty(t, r.Stderr)
	assert.NotContains(t, r.Stdout, "@@ PONG")
}

// SIGTERM at any moment of the appendix: exit status 143 (or 0 if it had finished,
// or death by the signal if it had not begun), at most one line on stderr and no
// trace, and nothing left behind.
func TestAlternativesSIGTERMAtAnyMoment(t *testing.T) {
	ipctest.NoLeaks(t)
	for _, delay := range []time.Duration{2, 8, 15, 25, 40, 60} {
		delay *= time.Millisecond
		t.Run(delay.String(), func(t *testing.T) {
			p := ipctest.StartProgram(t, "alternatives")
			time.Sleep(delay)
			_ = p.Cmd.Process.Signal(syscall.SIGTERM)
			r := p.Wait(t)
			if r.Signal == syscall.SIGTERM {
				// Killed before the program installed its handler: it had not begun.
				assert.NotContains(t, r.Stdout, "== 1.", "the handler is installed before step 1")
			} else {
				assert.Contains(t, []int{0, lesson.ExitTerminated}, r.ExitCode, "stderr: %s", r.Stderr)
			}
			assert.LessOrEqual(t, strings.Count(strings.TrimLeft(r.Stderr, "\n"), "\n"), 1, "one line at most: %q", r.Stderr)
			assert.NotContains(t, r.Stderr, "goroutine", "no trace")
			assert.Empty(t, ourDevShm(t, p.Pid()), "nothing left in /dev/shm")
			for _, re := range []string{`bind\("(/[^"]+)/socket"\)`, `gcc -O2 -Wall -o (/\S+)/anon_shared `} {
				if m := regexp.MustCompile(re).FindStringSubmatch(r.Stdout); m != nil {
					assert.NoDirExists(t, m[1], "temporary directory removed")
				}
			}
		})
	}
}

// An object /dev/shm/05-shmctl-PID of yours whose process is gone (a run killed
// with kill -9 before it unlinked) is shown with the command that removes it, and
// left alone: the lesson did not create it in this run.
func TestAlternativesShowsObjectsOfKilledRuns(t *testing.T) {
	ipctest.NoLeaks(t)
	gone := exec.Command("true")
	require.NoError(t, gone.Run())
	left := filepath.Join(devShm, posixName(gone.Process.Pid))
	require.NoError(t, os.WriteFile(left, make([]byte, 4096), 0o600))
	t.Cleanup(func() { os.Remove(left) })

	r := ipctest.RunProgram(t, "alternatives")
	require.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Empty(t, r.Stderr)
	assert.Regexp(t, `no longer run\n.*\n.*remove them yourself:\n   \$ rm (/dev/shm/05-shmctl-\d+ )*`+regexp.QuoteMeta(left), r.Stdout)
	assert.FileExists(t, left, "the lesson only shows it")
}
