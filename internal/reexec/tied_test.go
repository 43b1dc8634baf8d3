//go:build linux

package reexec

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// envTiedRole makes this test binary, run again, play a part in TestStartTied:
// "child" (prints "ready", then "got SIGTERM" when one comes, to standard output),
// "tied" or "untied" (a parent that starts a child, whose output goes to the file
// its argument names, and ends threads: see tiedParent).
const envTiedRole = "REEXEC_TEST_TIED_ROLE"

// tiedRole runs the part envTiedRole names, if any, and exits.
func tiedRole() {
	switch os.Getenv(envTiedRole) {
	case "":
		return
	case "child":
		terms := make(chan os.Signal, 1)
		signal.Notify(terms, syscall.SIGTERM)
		fmt.Println("ready")
		<-terms
		fmt.Println("got SIGTERM")
		os.Exit(0)
	default:
		os.Exit(tiedParent(os.Getenv(envTiedRole), os.Args[len(os.Args)-1]))
	}
}

// tiedParent starts a child whose output goes to file, and once the child is
// ready, ends threads: "tied" starts it with StartTied, then ends 20 threads (each
// a goroutine that locks its thread and returns); "untied" starts it with
// Pdeathsig from a goroutine locked to its thread, and then that goroutine returns,
// so its thread ends. Once the threads are gone it prints "churned PID" (the
// child's pid) and waits to be killed.
func tiedParent(mode, file string) int {
	// Keep the main thread for this goroutine, so that the goroutines below, which
	// lock a thread each, get threads that can end: the main thread never ends
	// when its goroutine returns (the runtime parks it instead). With one CPU
	// (GOMAXPROCS=1) they would otherwise be given the main thread again and again.
	runtime.LockOSThread()
	out, err := os.Create(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), envTiedRole+"=child")
	child.Stdout = out
	ended := make(chan int) // the tids of the threads that end
	var wg sync.WaitGroup
	endThread := func(fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread() // never unlocked: the thread ends when this returns
			if unix.Gettid() == os.Getpid() {
				fmt.Fprintln(os.Stderr, "a goroutine got the main thread, which tiedParent holds")
				os.Exit(1)
			}
			if err := fn(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			ended <- unix.Gettid()
		}()
	}
	var tids []int
	switch mode {
	case "tied":
		if err := StartTied(child, syscall.SIGTERM); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		waitFor(file, "ready\n")
		for range 20 {
			endThread(func() error { return nil })
		}
	case "untied":
		endThread(func() error {
			child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
			if err := child.Start(); err != nil {
				return err
			}
			waitFor(file, "ready\n")
			return nil
		})
	}
	go func() { wg.Wait(); close(ended) }()
	for tid := range ended {
		tids = append(tids, tid)
	}
	for _, tid := range tids { // gone from /proc: the kernel has run its exit
		for {
			if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid)); os.IsNotExist(err) {
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	fmt.Printf("churned %d\n", child.Process.Pid)
	select {}
}

// waitFor waits up to 10 s for file to hold exactly want, and reports whether it did.
func waitFor(file, want string) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if b, _ := os.ReadFile(file); string(b) == want {
			return true
		}
	}
	return false
}

// TestStartTied: a child started with StartTied runs on while its parent's threads
// end, and gets its signal when the parent dies (kill -9). Started with the same
// Pdeathsig from a thread that then ends, it gets the signal at once, parent alive:
// what StartTied is for.
func TestStartTied(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"tied", "untied"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join(t.TempDir(), "child")
			parent := exec.Command(os.Args[0], file)
			parent.Env = append(os.Environ(), envTiedRole+"="+mode)
			parent.Stderr = os.Stderr
			stdout, err := parent.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, parent.Start())
			t.Cleanup(func() { _ = parent.Process.Kill(); _ = parent.Wait() })
			var line string
			_, err = fmt.Fscanln(stdout, &line, new(int))
			require.NoError(t, err, "the parent's line")
			require.Equal(t, "churned", line)
			if mode == "untied" {
				assert.True(t, waitFor(file, "ready\ngot SIGTERM\n"), "the child gets SIGTERM when the thread that started it ends, though its parent lives")
				return
			}
			time.Sleep(200 * time.Millisecond) // time for a signal, were one sent
			b, _ := os.ReadFile(file)
			assert.Equal(t, "ready\n", string(b), "the child runs on while its parent's other threads end")
			require.NoError(t, parent.Process.Kill())
			assert.True(t, waitFor(file, "ready\ngot SIGTERM\n"), "the child gets SIGTERM when its parent dies (kill -9)")
		})
	}
}
