//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

// launch is the default run: this program again as a consumer process and as a
// producer process, with the same flags, their output prefixed with their role.
func launch(l *lesson.Lesson, args []string) error {
	var f streamFlags
	f.define(l)
	if err := l.Parse(args); err != nil {
		return err
	}
	if err := noArguments(l); err != nil {
		return err
	}
	key, _, err := f.check(l)
	if err != nil {
		return err
	}
	l.Step("Start a consumer and a producer: this program again, role first")
	if !keyGiven(l) {
		// The well-known key is for two terminals. The launcher's own pair meets
		// under a key of its own, so that demos started side by side never meet
		// each other's processes.
		if key, err = freshKey(); err != nil {
			return err
		}
		args = append([]string{"-key", key.String()}, args...)
		l.Say("they meet under key %v, picked at random and unused (no segment, no semaphore set has it),", key)
		l.Say("so that any number of these demos can run side by side; in two terminals both sides")
		l.Say("use ftok(\"/tmp\", 6) unless you give them a -key")
	} else {
		l.Say("they meet under key %v", key)
	}
	l.Say("the first creates the segment and semaphores, the second opens them")
	var steps *stepRelay
	if l.Stepping() {
		steps = newStepRelay(l)
		args = withoutStep(args)
		l.Say("with -step, each of them pauses before each of its own steps too: press Enter")
		l.Say("for the one that asks (when both wait, they ask in turn)")
	}
	var kids family
	for _, role := range []string{"consumer", "producer"} {
		// Started and its stop registered in one step (lesson.Keep): a signal that
		// comes while the child starts waits for the start, then stops it too.
		var c *child
		err := l.Keep("stop the children", func() (func() error, error) {
			var err error
			if c, err = startChild(role, args, steps, l.Out, l.Err); err != nil {
				return nil, err
			}
			kids.add(c)
			return kids.stop, nil
		})
		if err != nil {
			return err
		}
		l.Result("started the %s, pid %d", role, c.pid())
	}
	l.Look("ps -o pid,args -p %d,%d", kids.list[0].pid(), kids.list[1].pid())
	if err := kids.wait(); err != nil {
		return err
	}
	l.Step("Done")
	l.Result("both processes finished successfully")
	l.Look("ipcs -m -s   # nothing left under key %v", key)
	return nil
}

// freshKey picks a random key that no segment and no semaphore set has now. Another
// program could still take it before the children do; with 2^32 keys that is as
// unlikely as a collision of two random keys, and the children would then find its
// objects and refuse them as not theirs.
func freshKey() (ftok.Key, error) {
	def, _ := ftok.Ftok("/tmp", 6)
	for range 100 {
		key := ftok.Key(int32(rand.Uint32()))
		if key == ftok.Private || key == def {
			continue
		}
		_, shmErr := unix.SysvShmGet(int(key), 0, 0)
		_, _, semErr := unix.Syscall(unix.SYS_SEMGET, uintptr(key), 0, 0)
		if errors.Is(shmErr, unix.ENOENT) && semErr == unix.ENOENT {
			return key, nil
		}
	}
	return 0, errors.New("found no unused key in 100 random tries: is the System V table full? (ipcs -m -s)")
}

// child is a running role process.
type child struct {
	role    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser // with -step: the launcher lets it run a step by a line
	done    chan struct{}
	err     error // how it ended, once done is closed
	out     sync.WaitGroup
	stopped bool // the launcher sent it SIGTERM
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// envLauncher tells a consumer or producer that the launcher started it, and its
// peer with it ("1"): it must not tell the learner to start the peer; or that, and
// that it is to pause before each step through the launcher ("step", see stepper).
// Only a process whose parent started it with reexec believes it, so a copy of the
// variable in a shell's environment changes nothing.
const envLauncher = "SHMCOURSE_SYNC_LAUNCHER"

// launched reports whether the launcher started this process and its peer.
func launched() bool { return reexec.FromParent() && os.Getenv(envLauncher) != "" }

// launchedStepping reports whether the launcher also pauses this process's steps.
func launchedStepping() bool { return reexec.FromParent() && os.Getenv(envLauncher) == "step" }

// startChild starts this program again as role, its standard output copied to out
// and its standard error to errOut, each line prefixed with the role. The child
// gets SIGTERM if the launcher dies, of kill -9 too, and cleans up as on any SIGTERM.
func startChild(role string, args []string, steps *stepRelay, out, errOut io.Writer) (*child, error) {
	cmd, err := reexec.Command(append([]string{role}, args...)...)
	if err != nil {
		return nil, err
	}
	c := &child{role: role, cmd: cmd, done: make(chan struct{})}
	if steps != nil {
		cmd.Env = append(cmd.Env, envLauncher+"=step")
		if c.stdin, err = cmd.StdinPipe(); err != nil {
			return nil, err
		}
	} else {
		cmd.Env = append(cmd.Env, envLauncher+"=1")
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	// The parent-death signal (prctl(2), PR_SET_PDEATHSIG) comes when the thread
	// that started the child ends, not the process; reexec.StartTied starts every
	// child from one thread that lives as long as the launcher.
	if err := reexec.StartTied(cmd, syscall.SIGTERM); err != nil {
		return nil, fmt.Errorf("starting the %s: %w", role, err)
	}
	c.out.Add(2)
	go c.copyLines(out, stdout, steps)
	go c.copyLines(errOut, stderr, nil)
	go func() {
		c.out.Wait() // all output copied before Wait closes the pipes
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// signalLines are the lines a child prints on standard error when a signal ends
// it (lesson.Run): on Ctrl-C, which reaches the launcher and both children, or the
// launcher's SIGTERM, or a signal to the child alone. The launcher's own line, or
// its verdict, which names the signal, says it already, so it drops them; every
// other line of a child's is shown.
var signalLines = map[string]bool{
	fmt.Sprintf("%s: %v: cleaning up and exiting", name, syscall.SIGINT):  true,
	fmt.Sprintf("%s: %v: cleaning up and exiting", name, syscall.SIGTERM): true,
	fmt.Sprintf("%s: %v: cleaning up and exiting", name, syscall.SIGHUP):  true, // the terminal closed
}

// copyLines copies the child's output line by line, each prefixed with its role,
// except a signal line (signalLines). With -step, the child's request to pause (the
// protocol line "@@ STEP", which stepper.Step prints with Tell) goes to the relay
// instead: the child then waits for a line on its standard input.
func (c *child) copyLines(w io.Writer, r io.Reader, steps *stepRelay) {
	defer c.out.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if f, ok := lesson.ProtocolLine(sc.Text()); ok && steps != nil && f[0] == "STEP" {
			steps.queue <- c
			continue
		}
		if signalLines[sc.Text()] {
			continue
		}
		fmt.Fprintf(w, "%-8s| %s\n", c.role, sc.Text())
	}
}

// stepRelay asks the learner for Enter before each step of each child, one child
// at a time, in the order they ask, and lets the child go on.
type stepRelay struct {
	out   io.Writer
	in    *bufio.Reader
	queue chan *child // children waiting to run their next step
}

func newStepRelay(l *lesson.Lesson) *stepRelay {
	r := &stepRelay{out: l.Out, in: bufio.NewReader(l.In), queue: make(chan *child, 2)}
	go r.run()
	return r
}

// run serves the queue for as long as the launcher runs. A child asks again only
// once it has been let go, so the queue never holds more than the two children.
func (r *stepRelay) run() {
	stepping := true
	for c := range r.queue {
		if stepping {
			fmt.Fprintf(r.out, "%-8s|    (press Enter to run this step)\n", c.role)
			if _, err := r.in.ReadString('\n'); err != nil {
				stepping = false // end of input: let both run on, as lesson.Step does
			}
		}
		_, _ = io.WriteString(c.stdin, "\n") // fails only if the child has ended
	}
}

// withoutStep is args without -step: a child started with -step pauses through the
// launcher, not by reading a terminal it does not have.
func withoutStep(args []string) []string {
	var out []string
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "step" {
			continue
		}
		out = append(out, a)
	}
	return out
}

// ended reports whether the child has ended.
func (c *child) ended() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// family is the launcher's children.
type family struct {
	mu   sync.Mutex
	list []*child
}

func (f *family) add(c *child) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.list = append(f.list, c)
}

func (f *family) children() []*child {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*child(nil), f.list...)
}

// stop asks every child still running to end, all at once (SIGTERM runs their
// cleanups), and kills those that have not within 3 seconds. One at a time would
// let the first one's cleanup (removing the semaphore set) fail the second before
// its own SIGTERM came.
func (f *family) stop() error {
	kids := f.children()
	for _, c := range kids {
		if !c.ended() {
			f.mu.Lock()
			c.stopped = true
			f.mu.Unlock()
			_ = c.cmd.Process.Signal(syscall.SIGTERM) // harmless if it has just ended
		}
	}
	deadline := time.After(3 * time.Second)
	for _, c := range kids {
		select {
		case <-c.done:
		case <-deadline:
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
	return nil
}

// wait waits for every child. When one ends with an error or a signal, it stops
// the others at once, and returns the verdict on how they all ended.
func (f *family) wait() error {
	kids := f.children()
	ended := make(chan *child, len(kids))
	for _, c := range kids {
		go func() { <-c.done; ended <- c }()
	}
	var ends []end // in the order the children were reaped
	stopping := false
	for range kids {
		c := <-ended
		f.mu.Lock()
		stopped := c.stopped
		f.mu.Unlock()
		ends = append(ends, end{role: c.role, pid: c.pid(), err: c.err, stopped: stopped})
		if c.err != nil && !stopping {
			stopping = true
			_ = f.stop()
		}
	}
	return verdict(ends)
}

// end is how a child ended.
type end struct {
	role    string
	pid     int
	err     error // from Wait: nil if it exited with status 0
	stopped bool  // the launcher had sent it SIGTERM before it was reaped
}

// stoppedByUs reports whether the launcher's SIGTERM (or its SIGKILL, 3 s later)
// ended the child. A child that was already ending for a SIGTERM of its own when
// the launcher's came ends the same way; the two cannot be told apart, and it
// counts as stopped.
func (e end) stoppedByUs() bool { return e.stopped && exitedBy(e.err, syscall.SIGTERM) }

// signalled reports whether the child ended for a signal: its handler's exit
// status (130, 143) or death by the signal.
func (e end) signalled() bool {
	var ee *exec.ExitError
	if !errors.As(e.err, &ee) {
		return false
	}
	ws, _ := ee.Sys().(syscall.WaitStatus)
	return ws.Signaled() || ee.ExitCode() == lesson.ExitInterrupted || ee.ExitCode() == lesson.ExitTerminated || ee.ExitCode() == lesson.ExitHangup
}

// verdict names how the children ended, nil if all of them succeeded. It names
// first what started the end, whatever order the children were reaped in: a child
// ended by a signal the launcher did not send (Ctrl-C on it, kill), else the first
// to fail. A child whose peer went first may fail on that before its peer is
// reaped, so the order of the reaping says little. Then the others that failed of
// themselves ("too"), then those the launcher stopped. A child that had finished,
// or ended before the launcher stopped anything, is not said to be stopped.
func verdict(ends []end) error {
	var causes, signalled, stopped []end
	for _, e := range ends {
		switch {
		case e.err == nil:
		case e.stoppedByUs():
			stopped = append(stopped, e)
		case e.signalled():
			signalled = append(signalled, e)
		default:
			causes = append(causes, e)
		}
	}
	causes = append(signalled, causes...)
	if len(causes) == 0 && len(stopped) == 0 {
		return nil
	}
	var what []string
	for i, e := range causes {
		too := ""
		if i > 0 {
			too = " too"
		}
		what = append(what, fmt.Sprintf("the %s (pid %d) %s%s", e.role, e.pid, describeExit(e.err), too))
	}
	for _, e := range stopped {
		what = append(what, fmt.Sprintf("stopped the %s (pid %d)", e.role, e.pid))
	}
	return errors.New(strings.Join(what, "; "))
}

// describeExit says how a child that failed ended.
func describeExit(err error) string {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return "failed: " + err.Error()
	}
	ws, _ := ee.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		return fmt.Sprintf("was killed by signal %d (%v)", int(ws.Signal()), ws.Signal())
	case ee.ExitCode() == lesson.ExitInterrupted:
		return fmt.Sprintf("was stopped by SIGINT (exit status %d)", ee.ExitCode())
	case ee.ExitCode() == lesson.ExitTerminated:
		return fmt.Sprintf("was stopped by SIGTERM (exit status %d)", ee.ExitCode())
	case ee.ExitCode() == lesson.ExitHangup:
		return fmt.Sprintf("was stopped by SIGHUP (exit status %d)", ee.ExitCode())
	}
	return fmt.Sprintf("failed (exit status %d)", ee.ExitCode())
}

// exitedBy reports whether err is an exit for sig: the lesson's status for it
// (130, 143), or death by it.
func exitedBy(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal() == sig || ws.Signal() == syscall.SIGKILL
	}
	return ee.ExitCode() == 128+int(sig)
}
