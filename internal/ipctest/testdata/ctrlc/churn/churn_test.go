//go:build linux

// Package churn is a fixture of ipctest's TestCtrlCDuringGoTest (see package
// fixture): helper processes started one after another, each holding objects for
// a moment, and one that ignores SIGINT and SIGTERM, so that only SIGKILL stops it.
package churn

import (
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/ipctest/testdata/ctrlc/fixture"
)

func TestMain(m *testing.M) {
	ipctest.Helper("hold", func([]string) int { return fixture.Hold(false) })
	ipctest.Helper("blip", func([]string) int {
		id, err := fixture.Segment()
		if err != nil {
			return 1
		}
		time.Sleep(20 * time.Millisecond)
		_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
		return 0
	})
	ipctest.Helper("stubborn", func([]string) int { return fixture.Hold(true) })
	ipctest.Main(m, nil)
}

// Helpers started one after another, so that one is being started whenever Ctrl-C
// comes. There are many more subtests than run at once (-test.parallel): when one
// ends, failed because Ctrl-C stopped its helper, the next one starts helpers.
func TestChurn(t *testing.T) {
	t.Parallel()
	<-fixture.HoldersStarted
	for i := 0; i < 50; i++ {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			for time.Now().Before(fixture.Deadline()) {
				if r := ipctest.RunHelper(t, "blip"); r.ExitCode != 0 {
					t.Fatalf("blip: exit %d, stderr %q", r.ExitCode, r.Stderr)
				}
			}
		})
	}
}

// A helper that holds objects until the end, and one that ignores the signals.
func TestHolders(t *testing.T) {
	t.Parallel()
	defer fixture.HoldersAreStarted() // on a failure too: TestChurn waits for it
	var holders []*ipctest.Proc
	for _, name := range []string{"stubborn", "hold"} { // hold says Ready: stubborn is there by then
		if name == "stubborn" && os.Getenv("FIXTURE_STUBBORN") == "" {
			continue
		}
		p := ipctest.StartHelper(t, name)
		p.Expect(t, "holding", 10*time.Second)
		holders = append(holders, p)
	}
	fixture.HoldersAreStarted()
	for _, p := range holders { // each ends at the deadline
		if r := p.Wait(t); r.ExitCode != 0 {
			t.Errorf("exit %d, stderr %q", r.ExitCode, r.Stderr)
		}
	}
}
