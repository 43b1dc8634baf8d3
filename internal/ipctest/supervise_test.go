//go:build linux

package ipctest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// envEnd makes TestEndAsTold run, and says how it ends: it is the test run that
// TestSupervisorAfterTheTests starts.
const envEnd = "SHMCOURSE_IPCTEST_END"

func init() {
	// Creates a segment after a moment, whatever the signals say, and holds it: a
	// process that outlives the tests that started it.
	Helper("create-late", func([]string) int {
		signal.Ignore(syscall.SIGINT, syscall.SIGTERM)
		fmt.Println("ignoring SIGINT and SIGTERM")
		time.Sleep(300 * time.Millisecond)
		if _, err := unix.SysvShmGet(unix.IPC_PRIVATE, 16, unix.IPC_CREAT|0o600); err != nil {
			return 1
		}
		time.Sleep(Timeout) // (printing now would kill it: nobody reads its output)
		return 0
	})
}

// TestEndAsTold is not a test of its own: run by TestSupervisorAfterTheTests in a
// test binary of its own, it passes, fails, leaves a process running that creates a
// segment after the tests have ended, or holds a segment past -test.timeout.
func TestEndAsTold(t *testing.T) {
	switch os.Getenv(envEnd) {
	case "":
		t.Skip("run by TestSupervisorAfterTheTests")
	case "pass":
	case "pass after a second":
		time.Sleep(time.Second)
	case "fail":
		t.Fatal("failing as told")
	case "leave a process":
		cmd := exec.Command(os.Args[0]) // not through ipctest, which would wait for it
		cmd.Env = append(withoutHelper(), envHelper+"=create-late")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if _, err := bufio.NewReader(out).ReadString('\n'); err != nil { // it ignores them now
			t.Fatal(err)
		}
	case "time out":
		NewSegment(t, 16, 0o600)
		_ = t.TempDir() // left to the supervisor: the panic skips its removal
		time.Sleep(Timeout)
	}
}

// After the tests end, the supervisor stops what they left running and removes
// what they left: the run's exit status is the tests', or 1 (a failure) if anything
// of theirs was found after they had ended.
func TestSupervisorAfterTheTests(t *testing.T) {
	for _, tc := range []struct {
		end    string
		args   []string
		exit   int
		stderr string // a regular expression for the whole of stderr
		stdout string // one that stdout must match
	}{
		{"pass", nil, 0, ``, `(?m)^PASS$`},
		{"fail", nil, 1, ``, `(?m)^--- FAIL: TestEndAsTold .*\n.*failing as told`},
		{"leave a process", nil, 1,
			`^FAIL: the tests left 1 System V object\(s\) behind, found after they had ended:\n` +
				`    segment id \d+ key 0x00000000 size 16 created by pid (\d+), 0 attached \(ipcrm -m \d+\) \(removed now\)\n` +
				`ipctest: stopped 1 process\(es\) still running after the tests had ended: pid (\d+) \(\S+\)\n$`,
			`(?m)^PASS$`},
		{"time out", []string{"-test.timeout=1s"}, 2,
			`(?s)^panic: test timed out after 1s.*` +
				`FAIL: the tests left 1 System V object\(s\) behind, found after they had ended:\n` +
				`    segment id \d+ key 0x00000000 size 16 created by pid \d+, 0 attached \(ipcrm -m \d+\) \(removed now\)\n$`,
			``},
	} {
		t.Run(tc.end, func(t *testing.T) {
			// At once (a second or two of waiting each); what one leaves, the
			// package's leak check finds (NoLeaks is not for parallel tests).
			t.Parallel()
			cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestEndAsTold$"}, tc.args...)...)
			tmp := t.TempDir()
			cmd.Env = append(withoutHelper(), envEnd+"="+tc.end, envNamespace+"=off", "TMPDIR="+tmp)
			r := start(t, cmd, "a test run that ends: "+tc.end).Wait(t)
			runDirs, _ := filepath.Glob(filepath.Join(tmp, "shm-course-test-*"))
			assert.Empty(t, runDirs, "the run's temporary directory is removed")
			assert.Equal(t, tc.exit, r.ExitCode, "stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
			assert.Regexp(t, regexp.MustCompile(tc.stderr), r.Stderr)
			if tc.stderr == `` {
				assert.Empty(t, r.Stderr)
			}
			assert.Regexp(t, tc.stdout, r.Stdout)
			if m := regexp.MustCompile(tc.stderr).FindStringSubmatch(r.Stderr); len(m) == 3 {
				assert.Equal(t, m[1], m[2], "the process that made the segment was the one stopped")
			}
			assert.NotContains(t, strings.ToLower(r.Stdout+r.Stderr), "ipctest: interrupt")
		})
	}
}

// A run whose parent goes away is stopped as by SIGHUP, as when the terminal
// closes; but not a run that ignores SIGHUP (nohup), which runs to its end. Here
// a shell starts the run in the background and exits once the run has started its
// next process. (A run whose parent has gone before it starts cannot tell: its
// parent is then whoever adopted it.)
func TestParentGoneUnderNohup(t *testing.T) {
	for _, tc := range []struct {
		name   string
		trap   string
		stdout string // a regular expression for what the run prints
	}{
		{"SIGHUP ignored", `trap "" HUP;`, `(?m)^PASS$`},
		{"SIGHUP not ignored", ``, `^$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tmp := t.TempDir()
			out := filepath.Join(tmp, "out")
			// The run gets "pass after a second" and writes to a file; the shell
			// waits for nothing.
			cmd := exec.Command("/bin/sh", "-c", tc.trap+` "$0" -test.run='^TestEndAsTold$' >"$1" 2>&1 &
until cat /proc/$!/task/*/children 2>/dev/null | grep -q .; do sleep 0.01; done; sleep 0.2; echo $!`, os.Args[0], out)
			cmd.Env = append(withoutHelper(), envEnd+"=pass after a second", envNamespace+"=off", "TMPDIR="+tmp)
			r := start(t, cmd, "a shell that starts a test run and exits").Wait(t)
			require.Equal(t, 0, r.ExitCode, r.Stderr)
			pid, err := strconv.Atoi(strings.TrimSpace(r.Stdout))
			require.NoError(t, err)
			for Alive(pid) {
				time.Sleep(10 * time.Millisecond)
			}
			b, err := os.ReadFile(out)
			require.NoError(t, err)
			if tc.trap == "" {
				assert.Equal(t, "ipctest: hangup: stopped the tests and removed the 0 System V object(s) they had created\n", string(b))
				return
			}
			assert.Regexp(t, tc.stdout, string(b))
			assert.NotContains(t, string(b), "hangup")
		})
	}
}
