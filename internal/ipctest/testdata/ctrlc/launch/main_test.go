//go:build linux

package main

import (
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/ipctest/testdata/ctrlc/fixture"
)

func TestMain(m *testing.M) { ipctest.Main(m, program) }

// Launchers in process groups of their own, each with two children holding
// objects, started and stopped again and again, as 06-sync's signal tests do. There
// are many more subtests than run at once (-test.parallel): when one ends, failed
// because Ctrl-C stopped its processes, the next one starts and starts processes,
// as in a package with many tests.
func TestLaunchers(t *testing.T) {
	t.Parallel()
	<-fixture.HoldersStarted // TestStubborn's
	for i := 0; i < 50; i++ {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			t.Parallel()
			for time.Now().Before(fixture.Deadline()) {
				p := ipctest.StartProgramInGroup(t, "launch")
				p.ExpectAll(t, 10*time.Second, "holding", "holding")
				time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
				// (The group is gone if the holders' life ended meanwhile.)
				_ = syscall.Kill(-p.Pid(), []syscall.Signal{syscall.SIGINT, syscall.SIGTERM}[rand.IntN(2)])
				if r := p.Wait(t); r.ExitCode != 130 && r.ExitCode != 143 && time.Now().Before(fixture.Deadline()) {
					t.Fatalf("launch: exit %d, stderr %q", r.ExitCode, strings.TrimSpace(r.Stderr))
				}
			}
		})
	}
}

// The test process itself creates and removes objects all the time.
func TestInProcess(t *testing.T) {
	t.Parallel()
	for time.Now().Before(fixture.Deadline()) {
		id, err := fixture.Segment()
		if err != nil {
			t.Fatal(err)
		}
		set, err := fixture.Set()
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
		_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
		_ = set.Remove()
	}
}

// With FIXTURE_STUBBORN set, a program that ignores SIGINT and SIGTERM holds objects
// until the end: stopping it takes SIGKILL, after the grace period.
func TestStubborn(t *testing.T) {
	defer fixture.HoldersAreStarted() // on a skip or a failure too: TestLaunchers waits for it
	if os.Getenv("FIXTURE_STUBBORN") == "" {
		t.Skip("FIXTURE_STUBBORN is not set")
	}
	t.Parallel()
	p := ipctest.StartProgram(t, "stubborn")
	p.Expect(t, "holding", 10*time.Second)
	fixture.HoldersAreStarted()
	if r := p.Wait(t); r.ExitCode != 0 {
		t.Errorf("exit %d, stderr %q", r.ExitCode, r.Stderr)
	}
}
