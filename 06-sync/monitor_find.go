//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/06-sync/header"
	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/sem"
)

// watched is what the monitor watches: a run's segment, attached read-only, and its
// semaphore set.
type watched struct {
	key   ftok.Key
	shmid int
	seg   []byte // attached SHM_RDONLY
	hdr   header.Header
	set   *sem.Set
	ring  ringWatcher // reads and draws the segment's transport
}

// findRun finds the segment and semaphore set of a producer and consumer under key,
// waiting up to wait for them to appear, and saying what it waits for.
//
// While a side waits for its peer, the segment still has the key: shmget finds it.
// Once both have arrived they mark it for removal (IPC_RMID), and from then on its
// key is 0 and shmget cannot find it. The semaphore set keeps its key until it is
// removed, and semctl GETPID names the processes that last operated on it: the
// producer and consumer. Each of them has the segment attached, and the kernel names
// that attachment in /proc/PID/maps after the key the segment was created with,
// which IPC_RMID does not change: /SYSV0600c4a3, with the segment's id as its inode
// number. Linux lets a process attach a segment marked for removal by its id.
//
// start is how to start the producer and consumer (peerCommand), for when nothing is
// under the key.
func findRun(l *lesson.Lesson, key ftok.Key, wait time.Duration, start func(role string) string) (*watched, error) {
	deadline := time.Now().Add(wait)
	said := ""
	for {
		var story recorder
		w, waitingFor, err := lookUnder(&story, key)
		if err != nil {
			story.replay(l)
			return nil, err
		}
		if w == nil && waitingFor == "" {
			waitingFor = fmt.Sprintf("a producer or a consumer: nothing is under key %v (start them with '%s' and '%s')",
				key, start("consumer"), start("producer"))
		}
		if w != nil {
			story.replay(l)
			l.Cleanup(fmt.Sprintf("detach segment %d", w.shmid), func() error { return unix.SysvShmDetach(w.seg) })
			return w, nil
		}
		if waitingFor != said {
			l.Say("waiting up to %v for %s", wait, waitingFor)
			said = waitingFor
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("nothing to watch under key %v after %v: still waiting for %s", key, wait, waitingFor)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lookUnder looks once for a run under key. It returns what it found, or what it
// is waiting for, or an error if what is under the key is not this lesson's.
func lookUnder(n *recorder, key ftok.Key) (w *watched, waitingFor string, err error) {
	n.Call("shmget(%v, 0, 0)", key)
	id, err := unix.SysvShmGet(int(key), 0, 0)
	switch {
	case err == nil:
		n.Result("segment %d: it still has the key, so the producer and consumer have not both arrived yet", id)
		return openRun(n, key, id, 0, nil)
	case !errors.Is(err, unix.ENOENT):
		return nil, "", lesson.Failed(fmt.Sprintf("shmget(%v, 0, 0)", key), err, whyFor(err, unix.EACCES,
			"the segment belongs to another user and its mode does not let you read it; run the monitor as the user who runs the producer and consumer"))
	}
	n.Result("ENOENT: no segment has the key (none was made, or both sides arrived and marked it for removal: its key is then 0)")

	set, waitingFor, err := openSet(n, key)
	if set == nil {
		return nil, waitingFor, err // "" and nil: nothing is under the key
	}
	n.Call("semctl(%d, 0 and 1, GETPID)", set.ID())
	var live []int
	for num := 0; num < 2; num++ {
		pid, err := set.LastPid(num)
		if err != nil {
			return nil, fmt.Sprintf("semaphore set %d (%v)", set.ID(), lesson.ErrnoText(err)), nil
		}
		if header.Alive(pid) && !contains(live, pid) {
			live = append(live, pid)
		}
	}
	if len(live) == 0 {
		return nil, fmt.Sprintf("a new run: semaphore set %d under key %v was left by a run whose processes are gone (the next run removes it)", set.ID(), key), nil
	}
	n.Result("the last processes to operate on it: pid %s, running", joinInts(live, " and "))
	for _, pid := range live {
		n.Call("read /proc/%d/maps, looking for an attachment named /SYSV%08x", pid, uint32(key))
		line, id, err := mappedSegment(pid, key)
		if err != nil {
			return nil, "", fmt.Errorf("reading /proc/%d/maps: %v: run the monitor as the user who runs the producer and consumer, or as root", pid, lesson.ErrnoText(err))
		}
		if id < 0 {
			continue
		}
		n.Result("%s", strings.Join(strings.Fields(line), " "))
		n.Say("the kernel names an attachment after the key its segment was created with, and the inode column is the segment's id")
		if s, ok, _ := procsysv.FindShm(id); ok {
			n.Say("/proc/sysvipc/shm: segment %d, key %v, mode %o (%s), %d attached, created by pid %d",
				id, s.Key, s.Mode, destWords(s.Mode), s.Nattch, s.CPID)
		}
		return openRun(n, key, id, pid, set)
	}
	return nil, fmt.Sprintf("the segment of semaphore set %d: no process that operated on the set has a segment of key %v attached", set.ID(), key), nil
}

// openSet opens the semaphore set under key once its creator has initialised it
// (sem_otime != 0, see sem.Open). It returns nil and what it waits for while there is
// none, or an error if the set is not this lesson's or not ours to read.
func openSet(n *recorder, key ftok.Key) (*sem.Set, string, error) {
	n.Call("semget(%v, 0, 0)", key)
	id, _, errno := unix.Syscall(unix.SYS_SEMGET, uintptr(key), 0, 0)
	if errno == unix.ENOENT {
		n.Result("ENOENT: no semaphore set has the key")
		return nil, "", nil
	}
	if errno != 0 {
		return nil, "", lesson.Failed(fmt.Sprintf("semget(%v, 0, 0)", key), errno, "")
	}
	set := sem.FromID(int(id))
	info, err := set.Stat()
	if isRemoved(err) {
		return nil, fmt.Sprintf("semaphore set %d, removed as we looked", id), nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("semaphore set %d under key %v: %v: its mode does not let you read it; run the monitor as the user who runs the producer and consumer, or as root", id, key, lesson.ErrnoText(err))
	}
	if info.NSems != 2 {
		return nil, "", fmt.Errorf("key %v holds semaphore set %d with %d semaphores, not this lesson's 2: it belongs to another program; use the -key of the producer and consumer", key, id, info.NSems)
	}
	if info.Otime.IsZero() {
		return nil, fmt.Sprintf("semaphore set %d to be initialised (its sem_otime is still 0)", id), nil
	}
	n.Result("semaphore set %d: a set keeps its key until it is removed", id)
	return set, "", nil
}

// openRun attaches segment id read-only and checks that it is this lesson's. via is
// the process in whose maps the segment was found, with set the set that led there;
// via is 0 and set nil if the segment was found by its key, and the set is opened
// here.
func openRun(n *recorder, key ftok.Key, id, via int, set *sem.Set) (*watched, string, error) {
	n.Call("shmat(%d, NULL, SHM_RDONLY)", id)
	seg, err := attachReadOnly(id)
	if isRemoved(err) {
		return nil, fmt.Sprintf("segment %d, removed as we looked", id), nil
	}
	if err != nil {
		return nil, "", lesson.Failed(fmt.Sprintf("shmat(%d, NULL, SHM_RDONLY)", id), err, whyFor(err, unix.EACCES,
			"the segment's mode does not let you read it; run the monitor as the user who runs the producer and consumer, or as root"))
	}
	w := &watched{key: key, shmid: id, seg: seg}
	keep := false
	defer func() {
		if !keep {
			_ = unix.SysvShmDetach(seg)
		}
	}()
	if len(seg) < header.Size {
		return nil, "", fmt.Errorf("segment %d under key %v is %d bytes, too small for this lesson's header: it belongs to another program; use the -key of the producer and consumer", id, key, len(seg))
	}
	w.hdr = header.Of(seg)
	if w.hdr.MagicValue() == 0 {
		return nil, fmt.Sprintf("segment %d to be initialised (its magic is still 0)", id), nil
	}
	if w.ring, err = newRingWatcher(w.hdr, seg); err != nil {
		return nil, "", fmt.Errorf("segment %d under key %v: %v: it is not this lesson's; use the -key of the producer and consumer", id, key, err)
	}
	if via != 0 && via != w.hdr.CreatorPid() && via != w.hdr.Pid(header.Producer) && via != w.hdr.Pid(header.Consumer) {
		return nil, "", fmt.Errorf("segment %d, attached by pid %d, records neither it as creator, producer nor consumer: not the run of the set under key %v", id, via, key)
	}
	if pids := []int{w.hdr.CreatorPid(), w.hdr.Pid(header.Producer), w.hdr.Pid(header.Consumer)}; !header.Alive(pids[0]) && !header.Alive(pids[1]) && !header.Alive(pids[2]) {
		return nil, fmt.Sprintf("a new run: segment %d under key %v was left by a run whose processes are gone (creator pid %d, producer pid %d, consumer pid %d; the next run removes it)",
			id, key, pids[0], pids[1], pids[2]), nil
	}
	n.Result("attached read-only: magic \"SYNC\", transport %s, creator pid %d, producer pid %d, consumer pid %d",
		header.KindName(w.hdr.Kind()), w.hdr.CreatorPid(), w.hdr.Pid(header.Producer), w.hdr.Pid(header.Consumer))
	if set == nil {
		var waitingFor string
		if set, waitingFor, err = openSet(n, key); set == nil {
			if waitingFor == "" && err == nil {
				waitingFor = fmt.Sprintf("the semaphore set under key %v (the segment's creator makes it next)", key)
			}
			return nil, waitingFor, err
		}
	}
	w.set = set
	n.Look("ipcs -m -i %d; ipcs -s -i %d", id, w.set.ID())
	keep = true
	return w, "", nil
}

// mappedSegment finds in /proc/PID/maps the attachment of a segment that was
// created under key, and returns that line and the segment's id (the inode column),
// or id -1 if pid has none attached. A line reads
//
//	7f5a63645000-7f5a6364d000 rw-s 00000000 00:01 1114160   /SYSV0600c4a3 (deleted)
func mappedSegment(pid int, key ftok.Key) (line string, id int, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return "", -1, err
	}
	name := fmt.Sprintf("/SYSV%08x", uint32(key))
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && f[5] == name {
			if id, err := strconv.Atoi(f[4]); err == nil {
				return line, id, nil
			}
		}
	}
	return "", -1, nil
}

// destWords explains the SHM_DEST bit of a segment's mode in /proc/sysvipc/shm.
func destWords(mode uint32) string {
	if mode&0o1000 != 0 {
		return "01000 is SHM_DEST: marked for removal"
	}
	return "not marked for removal"
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func joinInts(list []int, sep string) string {
	s := make([]string, len(list))
	for i, v := range list {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, sep)
}

// recorder keeps the narration of one look, so that only the look that finds the
// run (or fails) is told, not every look while the monitor waits.
type recorder struct{ lines []func(*lesson.Lesson) }

func (r *recorder) Call(format string, args ...any) {
	r.lines = append(r.lines, func(l *lesson.Lesson) { l.Call(format, args...) })
}

func (r *recorder) Result(format string, args ...any) {
	r.lines = append(r.lines, func(l *lesson.Lesson) { l.Result(format, args...) })
}

func (r *recorder) Say(format string, args ...any) {
	r.lines = append(r.lines, func(l *lesson.Lesson) { l.Say(format, args...) })
}

func (r *recorder) Look(format string, args ...any) {
	r.lines = append(r.lines, func(l *lesson.Lesson) { l.Look(format, args...) })
}

func (r *recorder) replay(l *lesson.Lesson) {
	for _, say := range r.lines {
		say(l)
	}
}

// whyFor is why, the explanation of errno, if err is errno, and "" otherwise: the
// error names its errno itself (lesson.Failed), and an explanation of another would
// mislead.
func whyFor(err error, errno unix.Errno, why string) string {
	if errors.Is(err, errno) {
		return why
	}
	return ""
}
