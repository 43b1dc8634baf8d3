//go:build linux

package ipctest

import (
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
)

// exitUsage is lesson.ExitUsage (ipctest cannot import lesson: lesson's own tests
// use ipctest).
const exitUsage = 2

// AssertOneLineError checks that a run of the program refused bad input the way
// every lesson must: exit status wantExit, exactly one line on standard error that
// contains wantSubstr, no panic trace, and for a usage error (exit 2) the hint
// "run with -h for usage". It reports whether all the checks passed.
func AssertOneLineError(t testing.TB, r Result, wantExit int, wantSubstr string) bool {
	t.Helper()
	ok := assert.Equal(t, wantExit, r.ExitCode, "exit status; stderr: %q", r.Stderr)
	ok = assert.Contains(t, r.Stderr, wantSubstr) && ok
	ok = assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line: %q", r.Stderr) && ok
	ok = assert.True(t, strings.HasSuffix(r.Stderr, "\n"), "a whole line: %q", r.Stderr) && ok
	ok = assert.NotContains(t, r.Stderr, "goroutine", "no panic trace") && ok
	if wantExit == exitUsage {
		ok = assert.Contains(t, r.Stderr, "run with -h for usage") && ok
	}
	return ok
}

// AssertUsage checks a run with -h: exit status 0, nothing on standard error, and
// each of want in the usage on standard output. It reports whether all passed.
func AssertUsage(t testing.TB, r Result, want ...string) bool {
	t.Helper()
	ok := assert.Equal(t, 0, r.ExitCode, "-h exits 0; stderr: %q", r.Stderr)
	ok = assert.Empty(t, r.Stderr, "-h prints on standard output") && ok
	for _, w := range want {
		ok = assert.Contains(t, r.Stdout, w) && ok
	}
	return ok
}

// StepTo drives a program started with -step: it presses Enter at the pauses
// before steps 1 to n-1, and returns when the program pauses before step n. The
// test fails if a heading does not come (within Timeout of the process's start).
func (p *Proc) StepTo(t testing.TB, n int) {
	t.Helper()
	for step := 1; step <= n; step++ {
		p.Expect(t, fmt.Sprintf("== %d. ", step), Timeout)
		if step == n {
			return
		}
		if _, err := p.Stdin.Write([]byte("\n")); err != nil {
			t.Fatalf("pressing Enter before step %d: %v", step, err)
		}
	}
}

// Interrupt sends SIGINT, as Ctrl-C does, and waits for the process to end. Unlike
// Wait it does not close standard input first: at a -step pause, end of input
// means "go on", which would race with the signal.
func (p *Proc) Interrupt(t testing.TB) Result {
	t.Helper()
	p.Signal(t, syscall.SIGINT)
	<-p.done
	return p.Wait(t)
}
