package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// How often watch looks at the exercise's files, and how long they must stay
// unchanged before it runs the tests (an editor may write a file in several steps).
const (
	pollEvery = 250 * time.Millisecond
	settle    = 300 * time.Millisecond
)

// watch runs the current exercise's tests each time one of its files changes.
func watch(args []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	flags := flag.NewFlagSet("watch", flag.ContinueOnError)
	if err := parse(flags, "watch", args, stderr, 0, 1); err != nil {
		return 0, err
	}
	if err := needLinux(goos); err != nil {
		return 0, err
	}
	root, list, err := load()
	if err != nil {
		return 0, err
	}
	start := -1
	if flags.NArg() == 1 {
		e, err := Find(list, flags.Arg(0))
		if err != nil {
			return 0, err
		}
		start = indexOf(list, e)
	}
	signals := make(chan os.Signal, 3)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	w := &Watcher{Root: root, List: list, Out: stdout, Err: stderr, Signals: signals, Input: lines(stdin)}
	return w.Run(start)
}

func indexOf(list []Exercise, e Exercise) int {
	for i, x := range list {
		if x == e {
			return i
		}
	}
	return -1
}

// lines delivers the lines typed on r (Enter, "h", "q"); it is closed at the end
// of input.
func lines(r io.Reader) <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- strings.TrimSpace(sc.Text())
		}
	}()
	return ch
}

// Watcher is one session of `progress watch`.
type Watcher struct {
	Root    string
	List    []Exercise
	Out     io.Writer
	Err     io.Writer
	Signals <-chan os.Signal // SIGINT and SIGTERM
	Input   <-chan string    // lines the learner types
}

// errStop ends a session: the learner asked to leave (q), or a signal came.
type errStop struct{ status int }

func (e errStop) Error() string { return "stopped" }

// Run watches from exercise start (an index of List), or from the first one that
// does not pass when start is -1. It returns the exit status: 0 when every
// exercise passes or the learner typed q, 130 after SIGINT (Ctrl-C), 143 after
// SIGTERM.
func (w *Watcher) Run(start int) (int, error) {
	if start < 0 {
		fmt.Fprintln(w.Out, "Checking every exercise once to find where you are...")
		rep, err := w.test(w.List)
		if err != nil {
			return exitStatus(err)
		}
		if rep.Next == nil {
			fmt.Fprintln(w.Out, "All done: every exercise passes.")
			return 0, nil
		}
		start = indexOf(w.List, Exercise{Lesson: rep.Next.Lesson, Name: rep.Next.Name})
	}
	for i := start; i < len(w.List); i++ {
		if err := w.until(w.List[i]); err != nil {
			return exitStatus(err)
		}
	}
	fmt.Fprintln(w.Out, "\nAll done: every exercise from there on passes. go run ./progress shows your score.")
	return 0, nil
}

// exitStatus turns the error that ended a session into its exit status.
func exitStatus(err error) (int, error) {
	if stop, ok := err.(errStop); ok {
		return stop.status, nil
	}
	return 0, err
}

// until runs e's tests each time its files change, until they pass.
func (w *Watcher) until(e Exercise) error {
	dir := filepath.Join(w.Root, filepath.FromSlash(e.Path()))
	fmt.Fprintf(w.Out, "\n== %s: read %s/README.md, edit the stub, save ==\n", e.Path(), e.Path())
	for {
		before := snapshot(dir)
		rep, err := w.test([]Exercise{e})
		if err != nil {
			return err
		}
		r := rep.Exercises[0]
		w.show(r)
		if r.Status == Passing {
			return nil
		}
		fmt.Fprintf(w.Out, "Waiting for you to save a file in %s/ (type h and Enter: a hint; q and Enter: quit; Enter alone: run again)\n", e.Path())
		if err := w.wait(e, dir, before); err != nil {
			return err
		}
	}
}

// show prints the result of one run.
func (w *Watcher) show(r Result) {
	now := time.Now().Format("15:04:05")
	if r.Status == Passing {
		fmt.Fprintf(w.Out, "[%s] %s passes: %s. Well done!\n", now, r.Path, r.TestSummary())
		if r.RootTestsNotRun {
			fmt.Fprintf(w.Out, "  Grading also runs the root-only tests, as root: run them the same way with %s\n", Exercise{r.Lesson, r.Name}.RootCommand())
		}
		return
	}
	fmt.Fprintf(w.Out, "[%s] %s %s: %s\n", now, r.Path, r.Status, r.TestSummary())
	fmt.Fprintf(w.Out, "  %s\n", indent(r.Detail, "  "))
}

// wait returns when a file of dir differs from before and has stopped changing,
// or the learner pressed Enter; it shows a hint on "h" and stops on "q" or a signal.
func (w *Watcher) wait(e Exercise, dir string, before map[string]string) error {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	input := w.Input
	var changedAt time.Time
	last := before
	for {
		select {
		case sig := <-w.Signals:
			return stopBySignal(w.Out, sig)
		case line, ok := <-input:
			switch {
			case !ok:
				input = nil // no more input: watch the files only
			case line == "":
				return nil
			case line == "q":
				fmt.Fprintln(w.Out, "Bye. Your progress: go run ./progress")
				return errStop{0}
			case line == "h":
				if err := ShowHint(w.Root, e, w.Out, "h and Enter again"); err != nil {
					fmt.Fprintln(w.Err, "progress:", err)
				}
			default:
				fmt.Fprintln(w.Out, "Type h and Enter for a hint, q and Enter to quit; Enter alone runs the tests again.")
			}
		case <-tick.C:
			now := snapshot(dir)
			switch {
			case !equal(now, last):
				last, changedAt = now, time.Now()
			case !changedAt.IsZero() && time.Since(changedAt) >= settle && !equal(now, before):
				return nil
			}
		}
	}
}

// stopBySignal says why watch stops and gives the exit status a shell expects.
func stopBySignal(out io.Writer, sig os.Signal) error {
	fmt.Fprintf(out, "progress watch: stopped by %v\n", sig)
	return errStop{stopStatus(sig)}
}

// stopStatus is the exit status after sig: 128 + its number, as a shell reports it.
func stopStatus(sig os.Signal) int {
	if sig == syscall.SIGTERM {
		return 143
	}
	return 130 // SIGINT
}

// test runs the tests of list (see RunTests): a signal lets them finish first, and
// then stops the session.
func (w *Watcher) test(list []Exercise) (Report, error) {
	rep, stopped, err := RunTests(w.Root, list, w.Signals, w.Out, w.Err)
	if stopped != nil {
		return Report{}, stopBySignal(w.Out, stopped)
	}
	return rep, err
}

// snapshot is every file under dir with its size and modification time, but for an
// editor's own files (hidden ones such as Vim's .keyparts.go.swp, and backups ending
// in ~), which change while you type.
func snapshot(dir string) map[string]string {
	files := map[string]string{}
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") || strings.HasSuffix(d.Name(), "~") {
			return nil
		}
		if info, err := d.Info(); err == nil {
			files[path] = fmt.Sprintf("%d %d", info.Size(), info.ModTime().UnixNano())
		}
		return nil
	})
	return files
}

func equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
