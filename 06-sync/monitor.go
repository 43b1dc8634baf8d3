//go:build linux

package main

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/06-sync/header"
	"github.com/learn-sysv/shm-course/internal/lesson"
)

// monitor is the role "monitor": a third process that watches a producer and a
// consumer while they stream. Any process with read permission may attach a segment
// read-only and read a semaphore set's values, so the monitor sees the ring as the
// two peers leave it, and changes nothing: its attachment is SHM_RDONLY (a store
// through it would fault), and it only reads the set (semctl GETVAL, GETNCNT, GETPID,
// IPC_STAT).
//
//	go run ./06-sync monitor              the run under the default key
//	go run ./06-sync monitor -key 0x...   the run under another key
//
// It redraws in place about ten times a second on a terminal, and prints one line a
// second otherwise, until the stream ends (exit status 0) or stops early (1).
func monitor(l *lesson.Lesson, args []string) error {
	f := defineMonitorFlags(l)
	if err := l.Parse(args); err != nil {
		return err
	}
	if l.Flags.NArg() > 0 {
		return lesson.Usagef("unexpected argument %s: the monitor takes only flags", lesson.Quote(l.Flags.Arg(0)))
	}
	key, _, err := f.check(l)
	if err != nil {
		return err
	}
	l.Step("Find the producer's and consumer's objects under key %v", key)
	w, err := findRun(l, key, f.wait, func(role string) string { return peerCommand(l, f, role) })
	if err != nil {
		return err
	}
	l.Step("Watch the %s ring", header.KindName(w.hdr.Kind()))
	l.Say("the segment is attached read-only and the set is only read: the producer and consumer")
	l.Say("see no difference (Ctrl-C stops watching; the stream goes on)")
	return watch(l, w)
}

// defineMonitorFlags defines the monitor's flags: the producer's and consumer's own
// meeting flags (-key, -keyfile, -proj, the same definitions, so the same key), and
// -wait. The stream flags it does not take keep their defaults, so that check
// accepts them.
func defineMonitorFlags(l *lesson.Lesson) *streamFlags {
	var f streamFlags
	stream := &lesson.Lesson{Flags: flag.NewFlagSet("stream", flag.ContinueOnError)}
	f.define(stream)
	for _, name := range []string{"key", "keyfile", "proj"} {
		fl := stream.Flags.Lookup(name)
		l.Flags.Var(fl.Value, fl.Name, fl.Usage)
	}
	l.Flags.DurationVar(&f.wait, "wait", 60*time.Second, "how long to wait for a producer or consumer to appear under the key")
	return &f
}

// watch redraws the ring until the stream ends, the set is removed, or Ctrl-C.
//
// It looks at the segment every millisecond: loads from memory, no system call, so
// looking costs the peers nothing but a few cache-line transfers. It reads the
// semaphores (four semctl calls) and draws only every tenth of a second (a second
// when the output is not a terminal).
func watch(l *lesson.Lesson, w *watched) error {
	scr := newScreen(l.Out)
	start := time.Now()
	looks := time.NewTicker(time.Millisecond)
	defer looks.Stop()
	var next time.Time
	for now := range looks.C {
		w.ring.look(w.seg)
		if now.Before(next) {
			continue
		}
		next = now.Add(scr.every)
		sems, gone, err := readSemaphores(w)
		if err != nil {
			return err
		}
		scr.draw(w.frame(now, now.Sub(start), sems, scr.width()))
		if gone {
			return w.finish(l)
		}
		if !header.Alive(w.hdr.CreatorPid()) && !header.Alive(w.hdr.Pid(header.Producer)) && !header.Alive(w.hdr.Pid(header.Consumer)) {
			return fmt.Errorf("every process of the run is gone (producer %s, consumer %s) and semaphore set %d is still there: they were killed before they could clean up (the next run under key %v removes what they left)",
				w.peerState(header.Producer), w.peerState(header.Consumer), w.set.ID(), w.key)
		}
	}
	return nil
}

// semaphores is what the monitor reads of the set: each semaphore's value (GETVAL)
// and how many processes sleep waiting for it to grow (GETNCNT).
type semaphores struct {
	value, waiting [2]int
	gone           bool // the set has been removed: no values
}

// readSemaphores reads both semaphores. gone reports that the set has been removed
// (EINVAL or EIDRM): the peers remove it when the stream ends, or when one of them
// stops early.
func readSemaphores(w *watched) (s semaphores, gone bool, err error) {
	for num := 0; num < 2; num++ {
		if s.value[num], err = w.set.Value(num); err == nil {
			s.waiting[num], err = w.set.Waiting(num)
		}
		if isRemoved(err) {
			return semaphores{gone: true}, true, nil
		}
		if err != nil {
			return s, false, err
		}
	}
	return s, false, nil
}

// finish says how the stream ended once the set is gone. The segment is still
// there, attached by this process, with the last state the peers left in it.
func (w *watched) finish(l *lesson.Lesson) error {
	w.ring.look(w.seg)
	if how, ok := w.ring.ended(w.seg); ok {
		l.Step("The stream ended")
		l.Result("%s", how)
		l.Say("semaphore set %d is gone (the peers removed it); segment %d goes when this monitor detaches, the last process attached", w.set.ID(), w.shmid)
		return nil
	}
	return fmt.Errorf("semaphore set %d was removed before the end of the stream (producer %s, consumer %s): the run stopped early",
		w.set.ID(), w.peerState(header.Producer), w.peerState(header.Consumer))
}

// peerState says whether the process in role r is running, gone, or not here yet.
func (w *watched) peerState(r header.Role) string {
	pid := w.hdr.Pid(r)
	switch {
	case pid == 0:
		return "not here yet"
	case header.Alive(pid):
		return fmt.Sprintf("pid %d running", pid)
	}
	return fmt.Sprintf("pid %d gone", pid)
}

// isRemoved reports whether err means that the object is gone: EINVAL if it was
// removed before the call, EIDRM if during it.
func isRemoved(err error) bool {
	return errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EIDRM)
}

// attachReadOnly attaches segment id with SHM_RDONLY: the mapping has no write
// permission, so a store through it faults (SIGSEGV) instead of changing the ring.
func attachReadOnly(id int) ([]byte, error) {
	return unix.SysvShmAttach(id, 0, unix.SHM_RDONLY)
}
