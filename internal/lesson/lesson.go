//go:build linux

package lesson

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Program is a lesson's body. It defines its flags on l.Flags, calls l.Parse, and
// returns nil on success. Anything it creates it registers with l.Cleanup.
type Program func(l *Lesson, args []string) error

// Lesson is one run of a lesson program.
type Lesson struct {
	Name  string        // the program's name, such as "02-shmget"
	Flags *flag.FlagSet // -step is already defined; add the lesson's own
	In    io.Reader     // where -step reads Enter from
	Out   io.Writer     // narration
	Err   io.Writer     // the one-line error, if any

	usage string
	step  bool
	steps int
	input *bufio.Reader

	mu        sync.Mutex
	cleanups  []cleanup
	starting  sync.Mutex    // held while a child starts (StartChild), and to set ending
	ending    bool          // the cleanups have begun: start no child (under starting)
	exiting   sync.Mutex    // held by whichever of Run and the signal handler ends the program
	signalled chan struct{} // closed when SIGINT, SIGTERM or SIGHUP arrives
}

type cleanup struct {
	what     string
	fn       func() error
	onReturn bool // only when the program returns, not on a signal (CleanupOnReturn)
}

// SignalGrace is how long Run waits, when the program fails, for a SIGINT or
// SIGTERM that may be on its way before it reports the failure (see Run). A
// failure wrapped with SignalMayFollow waits as long as that says instead.
var SignalGrace = 100 * time.Millisecond

// SignalMayFollow wraps err, a failure that a signal to another process may have
// caused, a signal that may be on its way to this process too: Run then waits up to
// grace, instead of SignalGrace, for this process's own signal before it reports
// err, and exits for the signal if one comes. The error says what err says, and
// errors.Is and errors.As see through it.
//
// The case it is for: Ctrl-C reaches every process of the terminal's process group
// at once, and a peer's cleanup (removing the semaphore set the two share) fails
// this process before it has handled its own SIGINT. On a busy machine that can take
// longer than SignalGrace; a program that knows which of its failures a peer's
// cleanup causes marks those, and waits longer for them only.
func SignalMayFollow(err error, grace time.Duration) error {
	if err == nil {
		return nil
	}
	return &signalMayFollow{err: err, grace: grace}
}

type signalMayFollow struct {
	err   error
	grace time.Duration
}

func (e *signalMayFollow) Error() string { return e.err.Error() }
func (e *signalMayFollow) Unwrap() error { return e.err }

// graceFor is how long to wait for a signal before reporting err.
func graceFor(err error) time.Duration {
	var m *signalMayFollow
	if errors.As(err, &m) {
		return m.grace
	}
	return SignalGrace
}

// Exit statuses.
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitUsage       = 2
	ExitHangup      = 129 // 128 + SIGHUP: the terminal was closed
	ExitInterrupted = 130 // 128 + SIGINT, as shells report it
	ExitTerminated  = 143 // 128 + SIGTERM
)

// Main runs program as the process's main function with the command-line
// arguments and the standard streams, and exits with its status (see Entry). usage
// is the text -h prints above the flag list: the synopsis and what the program shows.
func Main(name, usage string, program Program) {
	os.Exit(Entry(name, usage, program)(os.Args[1:]))
}

// Run runs program once and returns the exit status. Tests call it to run a lesson
// in-process; Main calls it for real.
//
// While it runs, SIGINT and SIGTERM run the cleanups and exit the process
// (status 130 or 143), even if the program is blocked in a system call; so does
// SIGHUP, the closing of the terminal (129), unless the program was started with it
// ignored (nohup). The signal
// is handled in another goroutine while the program's own goroutine goes on, so:
//
//   - the cleanups that CleanupOnReturn registered do not run on a signal: the
//     program may still be using what they release (unmapping memory it is reading
//     would be a fault), and the exit releases it anyway;
//   - the one line "NAME: interrupt: cleaning up and exiting" is all that the
//     program prints on standard error: a failure that comes meanwhile is not
//     reported. Ctrl-C signals every process of the terminal's process group at
//     once, so one process's cleanup (removing a semaphore set, say) can make
//     another fail a moment before that one handles its own signal: when the
//     program fails, Run first waits up to SignalGrace (or what SignalMayFollow
//     says) for a signal, and if one comes, the process exits for the signal.
func Run(name, usage string, program Program, args []string, stdin io.Reader, stdout, stderr io.Writer) (status int) {
	l := &Lesson{Name: name, In: stdin, Out: stdout, Err: stderr, usage: usage, signalled: make(chan struct{})}
	l.Flags = flag.NewFlagSet(name, flag.ContinueOnError)
	l.Flags.SetOutput(io.Discard) // Parse reports errors itself, in one line
	l.Flags.BoolVar(&l.step, "step", false, "pause before each step until Enter is pressed, to look around from another terminal")

	stop := l.exitOnSignal()
	var err error
	defer func() {
		p := recover()
		switch {
		case p != nil:
			l.deferToSignal(SignalGrace)
		case failure(err):
			l.deferToSignal(graceFor(err))
		}
		if sig := l.finish(stop); sig != nil {
			// The signal came while the program was ending: it ran the cleanups
			// already, and the exit is still the signal's.
			status = l.signalExit(sig)
			return
		}
		if p != nil {
			// A panic is a bug in the lesson, but the learner still gets one line
			// and a clean machine rather than a trace and a leaked segment.
			fmt.Fprintf(stderr, "%s: internal error: %v\n", name, p)
			status = ExitFailed
			return
		}
		status = l.report(err)
	}()
	err = program(l, args)
	return ExitOK // replaced by the deferred function
}

// failure reports whether err is the program failing (exit status 1), rather than
// success, -h or a usage error.
func failure(err error) bool {
	var usageErr *UsageError
	return err != nil && !errors.Is(err, flag.ErrHelp) && !errors.As(err, &usageErr)
}

// deferToSignal waits up to grace for a signal. If one comes, the signal handler
// ends the process: deferToSignal never returns then.
func (l *Lesson) deferToSignal(grace time.Duration) {
	select {
	case <-l.signalled:
		select {} // the handler runs the cleanups and exits
	case <-time.After(grace):
	}
}

// finish runs the cleanups and stops listening for signals. If a signal is being
// handled, that handler owns the exit: finish waits for the lock it holds (the
// process exits there), so that returning from main cannot cut its cleanups short.
// A signal that arrived while the cleanups ran, or that the handler had not yet
// taken, is returned: the program was interrupted, even if it had nothing left to
// do.
func (l *Lesson) finish(stopSignals func() os.Signal) os.Signal {
	l.exiting.Lock()
	l.runCleanups(false)
	l.exiting.Unlock() // a signal handled from here on finds nothing left to clean up
	return stopSignals()
}

// stopPending reports whether SIGINT, SIGTERM or SIGHUP is pending for the process: sent,
// but not yet taken by any of its threads (ShdPnd in /proc/self/status, the mask of
// signals pending for the whole process; signal 1 is bit 0).
func stopPending() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if hex, ok := strings.CutPrefix(line, "ShdPnd:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return err == nil && mask&(1<<(syscall.SIGINT-1)|1<<(syscall.SIGTERM-1)|1<<(syscall.SIGHUP-1)) != 0
		}
	}
	return false
}

// signalExit prints the line a signal gives and returns its exit status.
func (l *Lesson) signalExit(sig os.Signal) int {
	// On a terminal, Ctrl-C has echoed "^C" where the cursor was: start a new line.
	// Elsewhere the one line is the whole of standard error.
	nl := ""
	if isTerminal(l.Err) {
		nl = "\n"
	}
	fmt.Fprintf(l.Err, "%s%s: %v: cleaning up and exiting\n", nl, l.Name, sig)
	switch sig {
	case syscall.SIGTERM:
		return ExitTerminated
	case syscall.SIGHUP:
		return ExitHangup
	}
	return ExitInterrupted
}

// report prints err in one line and picks the exit status.
func (l *Lesson) report(err error) int {
	var usageErr *UsageError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, flag.ErrHelp):
		l.printUsage(l.Out)
		return ExitOK
	case errors.As(err, &usageErr):
		fmt.Fprintf(l.Err, "%s: %v (run with -h for usage)\n", l.Name, err)
		return ExitUsage
	default:
		fmt.Fprintf(l.Err, "%s: %s\n", l.Name, oneLine(err.Error()))
		return ExitFailed
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Parse parses args with l.Flags. It returns flag.ErrHelp for -h (Run then prints
// the usage and exits 0) and a *UsageError for anything else wrong.
func (l *Lesson) Parse(args []string) error {
	err := l.Flags.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		return &UsageError{Msg: err.Error()}
	}
	return nil
}

func (l *Lesson) printUsage(w io.Writer) {
	fmt.Fprintln(w, strings.TrimSpace(l.usage))
	fmt.Fprintln(w, "\nFlags:")
	l.Flags.SetOutput(w)
	l.Flags.PrintDefaults()
	l.Flags.SetOutput(io.Discard)
}

// UsageError is a mistake on the command line: exit status 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a *UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// Cleanup registers fn to undo something the lesson created, described by what
// (for example "remove segment 32769"). Cleanups run in reverse order when the
// program ends, however it ends; each runs once.
func (l *Lesson) Cleanup(what string, fn func() error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cleanups = append(l.cleanups, cleanup{what: what, fn: fn})
}

// Keep runs create, which makes something that outlives the process unless undone
// (a segment, a semaphore set, a file), and registers the undo it returns as a
// cleanup described by what, with no moment in between at which a signal could end
// the program and leave the thing behind: a signal's cleanups, which begin by taking
// the same lock, wait for create to return and then find its undo. Once the
// cleanups have begun, Keep makes nothing and returns an error nobody sees (the
// program is exiting). If create fails, it must leave nothing behind itself; it must
// not call Keep or StartChild (they take the same lock).
//
// Registering a cleanup just after the call that creates (Cleanup) leaves a window
// of a few instructions; Keep closes it. A test that holds the call up
// (strace's -e inject=shmget:delay_exit=500000, then SIGTERM) shows the difference.
func (l *Lesson) Keep(what string, create func() (undo func() error, err error)) error {
	l.starting.Lock()
	defer l.starting.Unlock()
	if l.ending {
		return errEnding
	}
	undo, err := create()
	if err != nil {
		return err
	}
	l.Cleanup(what, undo)
	return nil
}

// CleanupOnReturn registers fn like Cleanup, for something that the process's exit
// undoes by itself, such as an attachment (shmdt) or an open file. It runs when the
// program returns (success, error or panic), in order with the other cleanups, but
// not on SIGINT or SIGTERM: the signal is handled while the program's goroutine may
// still be using the memory, and detaching it under that goroutine would crash the
// program with a fault ("unexpected fault address") instead of a clean exit. The
// exit that follows the signal detaches it anyway (shmat(2): "Upon _exit(2), all
// attached shared memory segments are detached from the process").
func (l *Lesson) CleanupOnReturn(what string, fn func() error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cleanups = append(l.cleanups, cleanup{what: what, fn: fn, onReturn: true})
}

// runCleanups runs every registered cleanup, newest first, and forgets them. On a
// signal it leaves out those registered with CleanupOnReturn.
func (l *Lesson) runCleanups(onSignal bool) {
	l.starting.Lock() // a child being started is registered first
	l.ending = true
	l.starting.Unlock()
	for {
		l.mu.Lock()
		if len(l.cleanups) == 0 {
			l.mu.Unlock()
			return
		}
		c := l.cleanups[len(l.cleanups)-1]
		l.cleanups = l.cleanups[:len(l.cleanups)-1]
		l.mu.Unlock()
		if onSignal && c.onReturn {
			continue
		}
		if err := c.fn(); err != nil {
			fmt.Fprintf(l.Err, "%s: cleanup (%s): %v\n", l.Name, c.what, err)
		}
	}
}

// exitOnSignal makes SIGINT, SIGTERM and SIGHUP run the cleanups and exit. The returned
// function stops listening.
func (l *Lesson) exitOnSignal() (stop func() os.Signal) {
	signals := make(chan os.Signal, 1)
	done := make(chan struct{})   // closed by stop: the program has finished
	exited := make(chan struct{}) // closed when the handler returns without exiting
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	// SIGHUP comes when the terminal closes (a window shut during a -step pause,
	// say): clean up for it too, unless the program was started to ignore it
	// (nohup), which Notify would undo.
	if !signal.Ignored(syscall.SIGHUP) {
		signal.Notify(signals, syscall.SIGHUP)
	}
	go func() {
		defer close(exited)
		select {
		case sig := <-signals:
			close(l.signalled)
			l.exiting.Lock()
			select {
			case <-done: // the program finished first and has cleaned up
				l.exiting.Unlock()
				// stop reports it: the program was still interrupted. If a second
				// signal already fills the channel, that one is reported instead
				// (a blocking send would wait for ever: stop waits for this).
				select {
				case signals <- sig:
				default:
				}
				return
			default:
			}
			status := l.signalExit(sig)
			l.runCleanups(true)
			os.Exit(status)
		case <-done:
		}
	}()
	return func() os.Signal {
		close(done)
		<-exited
		// A signal the kernel has queued for the process but no thread has taken
		// yet is still on its way: let it reach the channel (kill(2) to the process
		// a moment ago, Ctrl-C just now), or exiting now would drop it.
		for deadline := time.Now().Add(100 * time.Millisecond); stopPending() && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		signal.Stop(signals) // from here on, nothing more arrives
		select {
		case sig := <-signals:
			return sig
		default:
			return nil
		}
	}
}

// Entry returns program as a function from arguments to exit status that uses the
// process's standard streams: what Main runs, and what ipctest.Main runs when a test
// starts the lesson as a separate process, so that a test runs it as a learner does.
//
// It ignores SIGPIPE, so that `go run ./NN-name | head` does not kill the program
// before its cleanups run (Go dies of SIGPIPE on a write to a closed stdout); the
// writes fail instead, and the program ends normally and removes what it created.
// The same holds for a child whose parent has died and taken the read end of its
// output pipe with it.
func Entry(name, usage string, program Program) func(args []string) int {
	return func(args []string) int {
		signal.Ignore(syscall.SIGPIPE)
		return Run(name, usage, program, args, os.Stdin, os.Stdout, os.Stderr)
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
