//go:build linux

package ipctest

import (
	"bufio"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func init() {
	// print-on-cue prints each argument as a line when a line arrives on stdin, then
	// prints "end" and exits: the test decides when each line comes.
	Helper("print-on-cue", func(args []string) int {
		in := bufio.NewScanner(os.Stdin)
		for _, a := range args {
			if !in.Scan() {
				return 1
			}
			fmt.Println(a)
		}
		fmt.Println("end")
		return 0
	})
}

// cue makes print-on-cue print its next line.
func cue(t *testing.T, p *Proc) {
	t.Helper()
	_, err := p.Stdin.Write([]byte("\n"))
	if err != nil {
		t.Fatal(err)
	}
}

// Lines awaited together may come in any order, and the lines ExpectAll reads but
// does not need are still there for the next Expect. With Expect alone, waiting
// for "B" and then for "A" loses "A" when A is printed first: the test this
// replaces failed whenever two processes printed in the other order.
func TestExpectAllInAnyOrderLosesNothing(t *testing.T) {
	for _, order := range [][]string{{"A", "x", "B"}, {"B", "x", "A"}} {
		t.Run(fmt.Sprint(order), func(t *testing.T) {
			p := StartHelper(t, "print-on-cue", append(order, "C")...)
			for range order {
				cue(t, p)
			}
			got := p.ExpectAll(t, 10*time.Second, "B", "A")
			assert.Equal(t, []string{"B", "A"}, got, "in the order asked for")
			assert.Equal(t, "x", p.Expect(t, "x", time.Second), "a line between them is not lost")
			cue(t, p)
			assert.Equal(t, "C", p.Expect(t, "C", 10*time.Second))
			assert.Equal(t, 0, p.Wait(t).ExitCode)
		})
	}
}

// ExpectAll waits for lines that are not printed yet, and a line counts for one
// substring only.
func TestExpectAllWaitsAndCountsALineOnce(t *testing.T) {
	p := StartHelper(t, "print-on-cue", "started the consumer", "started the consumer again")
	cue(t, p)
	done := make(chan []string)
	go func() { done <- p.ExpectAll(t, 10*time.Second, "started the consumer", "consumer") }()
	select {
	case got := <-done:
		t.Fatalf("returned %q before the second line was printed", got)
	case <-time.After(100 * time.Millisecond):
	}
	cue(t, p)
	assert.Equal(t, []string{"started the consumer", "started the consumer again"}, <-done)
	assert.Equal(t, 0, p.Wait(t).ExitCode)
}

// ExpectAll fails the test, naming what is missing, when the process ends first.
func TestExpectAllFailsWhenTheProcessEnds(t *testing.T) {
	p := StartHelper(t, "print-on-cue", "A")
	cue(t, p)
	r := &fatalRecorder{}
	got := p.ExpectAll(r, 10*time.Second, "A", "never")
	assert.True(t, r.failed, "the test fails")
	assert.Contains(t, r.msg, `before printing "never"`)
	assert.Equal(t, "A", got[0])
}

// fatalRecorder is a testing.TB that records a Fatalf instead of stopping.
type fatalRecorder struct {
	testing.TB
	failed bool
	msg    string
}

func (r *fatalRecorder) Helper() {}
func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
}
