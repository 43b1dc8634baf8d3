//go:build linux

package ipctest

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/procsysv"
)

// Which processes belong to the test run. A test run is this process and every
// helper or program process it starts (and they start): each logs its pid and its
// start time to a file named in the environment, which children inherit. A pid alone
// is not enough: pids are reused (pid_max is often 32768), so a pid in the log may
// belong to another program by the time the leak check looks. A process is the very
// one that logged itself if its pid and its start time (field 22 of /proc/PID/stat,
// in clock ticks since boot) both match.

// runPids maps each pid of the test run to the start times logged under it (more
// than one if the run itself reused a pid).
type runPids map[int][]uint64

// startPidFile makes the run's pid file, names it in the environment for the
// processes of the run, and returns its path ("" if it could not).
func startPidFile() string {
	f, err := os.CreateTemp("", "shm-course-test-pids-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "ipctest: cannot log test pids (%v); only the tests' own process's objects count\n", err)
		return ""
	}
	_ = f.Chmod(0o666) // helpers that run as another user (nobody) log their pids too
	f.Close()
	os.Setenv(envPidFile, f.Name())
	return f.Name()
}

// logPid records this helper or program process as part of the test run.
func logPid() {
	path := os.Getenv(envPidFile)
	start, ok := procStart(os.Getpid())
	if path == "" || !ok {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%d %d\n", os.Getpid(), start) // one small O_APPEND write: lines never interleave
}

// ClaimSet records semaphore set id as one of the test run's. The leak checks, and
// the cleanup after a signal in a shared namespace, know a set as the run's by the
// last process to operate on it; a set that a test makes and leaves untouched on
// purpose (as one whose creator died before its first semop) names none, so the
// test claims it right after semget(2). (A set made under a key from UnusedKey
// needs no claim.) The record is the id and the set's ctime, so that a set another
// program gets under the same id later is not the run's.
func ClaimSet(id int) {
	sets, err := procsysv.ReadSem()
	if err != nil {
		return
	}
	for _, s := range sets {
		if s.ID == id {
			logLine(fmt.Sprintf("set %d %d", id, s.Ctime))
		}
	}
}

// logKey records a key that UnusedKey gave the run, from now until the test's end:
// a set made under it meanwhile counts as the run's before any operation names its
// maker, so that a process of the run stopped between semget and its first semop
// (or ClaimSet) leaves none behind. The time bounds matter: the key's file goes
// with the test, and the file system may give its inode to the next file made,
// anyone's, whose ftok is then the same key.
func logKey(t testing.TB, key ftok.Key) {
	logLine(fmt.Sprintf("key %d %d", uint32(key), time.Now().Unix()))
	t.Cleanup(func() { logLine(fmt.Sprintf("keyend %d %d", uint32(key), time.Now().Unix())) })
}

// logLine appends one line to the run's pid file (one small O_APPEND write: lines
// never interleave).
func logLine(line string) {
	if f, err := os.OpenFile(os.Getenv(envPidFile), os.O_WRONLY|os.O_APPEND, 0); err == nil {
		fmt.Fprintln(f, line)
		f.Close()
	}
}

// claims are what the run claimed: sets by id (ClaimSet: id to ctime) and keys
// (UnusedKey: the seconds during which the key was the run's).
type claims struct {
	sets map[int]int64
	keys map[ftok.Key][]keySpan
}

type keySpan struct{ from, to int64 } // to: 0 while the key is the run's

// readClaims returns the run's claims so far.
func readClaims() claims {
	c := claims{sets: map[int]int64{}, keys: map[ftok.Key][]keySpan{}}
	data, err := os.ReadFile(os.Getenv(envPidFile))
	if err != nil {
		return c
	}
	for _, line := range strings.Split(string(data), "\n") {
		var id int
		var ctime, when int64
		var key uint32
		if _, err := fmt.Sscanf(line, "set %d %d", &id, &ctime); err == nil {
			c.sets[id] = ctime
		} else if _, err := fmt.Sscanf(line, "key %d %d", &key, &when); err == nil {
			k := ftok.Key(int32(key))
			c.keys[k] = append(c.keys[k], keySpan{from: when})
		} else if _, err := fmt.Sscanf(line, "keyend %d %d", &key, &when); err == nil {
			k := ftok.Key(int32(key))
			for i := range c.keys[k] {
				if c.keys[k][i].to == 0 {
					c.keys[k][i].to = when
					break
				}
			}
		}
	}
	return c
}

// claimed reports whether set o (a semaphore set) is the run's by a claim: its id
// and ctime, or its key, made (ctime) while the key was the run's, while no
// operation has named a process (every semaphore's last pid 0).
func (c claims) claimed(o object) bool {
	if o.kind != "sem" {
		return false
	}
	if ctime, ok := c.sets[o.id]; ok && ctime == o.ctime {
		return true
	}
	if o.key == 0 || len(o.pids) == 0 {
		return false
	}
	for _, pid := range o.pids {
		if pid != 0 {
			return false
		}
	}
	for _, span := range c.keys[o.key] {
		if o.ctime >= span.from && (span.to == 0 || o.ctime <= span.to) {
			return true
		}
	}
	return false
}

// testPids returns the processes of this test run so far.
func testPids() runPids {
	pids := runPids{}
	if start, ok := procStart(os.Getpid()); ok {
		pids.add(os.Getpid(), start)
	}
	data, err := os.ReadFile(os.Getenv(envPidFile))
	if err != nil {
		return pids
	}
	for _, line := range strings.Split(string(data), "\n") {
		var pid int
		var start uint64
		if _, err := fmt.Sscanf(line, "%d %d", &pid, &start); err == nil {
			pids.add(pid, start)
		}
	}
	return pids
}

func (r runPids) add(pid int, start uint64) { r[pid] = append(r[pid], start) }

// alive reports whether pid is a process of the run that is still there (a zombie
// counts: it holds its pid until it is reaped).
func (r runPids) alive(pid int) bool {
	now, ok := procStart(pid)
	if !ok {
		return false
	}
	for _, s := range r[pid] {
		if s == now {
			return true
		}
	}
	return false
}

// did reports whether the process with this pid that a System V object names (its
// creator, or the last to operate on a semaphore) was one of the run's, given when
// the object last recorded an event (t, seconds since the epoch: the segment's
// ctime, the set's otime).
//
//   - The pid is not in the run's log: not ours.
//   - The run's process is still there (same pid, same start time): ours.
//   - Another process holds the pid now: ours only if the object's event is older
//     than that process (then it was made while the pid was the run's).
//   - Nobody holds the pid: the run's process did it, or a process that got the pid
//     after it and has ended too. That needs a full round of pids during the run
//     and a program that makes System V objects in the same namespace meanwhile;
//     the course's own runs there take turns on the lock, so it is not one of them.
func (r runPids) did(pid int, t int64) bool {
	if _, logged := r[pid]; !logged {
		return false
	}
	if r.alive(pid) {
		return true
	}
	now, holder := procStart(pid)
	if holder {
		return t < startSeconds(now)
	}
	return true
}

// procStart returns the start time of process pid, in clock ticks since boot (field
// 22 of /proc/PID/stat, proc(5)), and false if there is no such process.
func procStart(pid int) (uint64, bool) {
	fields, ok := procStat(pid)
	const startField = 22 - 3
	if !ok || len(fields) <= startField {
		return 0, false
	}
	start, err := strconv.ParseUint(fields[startField], 10, 64)
	return start, err == nil
}

// procStat returns the fields of /proc/PID/stat from field 3 (the state) on. Field
// 2, the command name in parentheses, may itself hold spaces and parentheses: the
// fields that matter come after the last ')'.
func procStat(pid int) ([]string, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return nil, false
	}
	fields := strings.Fields(string(data[i+1:]))
	return fields, len(fields) > 0
}

// userHZ is the unit of the times in /proc/PID/stat: sysconf(_SC_CLK_TCK), which
// Linux fixes at 100 for user space on every architecture the course runs on.
const userHZ = 100

var bootTime = sync.OnceValue(func() int64 {
	data, _ := os.ReadFile("/proc/stat")
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			t, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return t
		}
	}
	return 0
})

// startSeconds turns a start time in clock ticks since boot into seconds since the
// epoch, rounded down.
func startSeconds(ticks uint64) int64 { return bootTime() + int64(ticks/userHZ) }

// proc is one process as /proc shows it, for the supervisor's walk.
type proc struct {
	pid, ppid int
	state     string // field 3 of /proc/PID/stat: R, S, D, T, Z, ...
	start     uint64 // field 22, in clock ticks since boot
}

// below returns every process below this one — its children, their children and
// so on — that has not ended (a zombie has). The supervisor is a child subreaper,
// so a process whose parent has died is still below it (reparented to it), never
// lost to init.
func below() []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]proc{}
	const ppidField, startField = 4 - 3, 22 - 3
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fields, ok := procStat(pid)
		if !ok || len(fields) <= startField {
			continue
		}
		ppid, err1 := strconv.Atoi(fields[ppidField])
		start, err2 := strconv.ParseUint(fields[startField], 10, 64)
		if err1 == nil && err2 == nil {
			children[ppid] = append(children[ppid], proc{pid: pid, ppid: ppid, state: fields[0], start: start})
		}
	}
	var found []proc
	queue := []int{os.Getpid()}
	for len(queue) > 0 {
		parent := queue[0]
		queue = queue[1:]
		for _, c := range children[parent] {
			queue = append(queue, c.pid)
			if !c.dead() {
				found = append(found, c)
			}
		}
	}
	return found
}

func (p proc) dead() bool { return p.state == "Z" || p.state == "X" || p.state == "x" }

// ended reports whether p has ended since the walk: it is gone, a zombie, or its
// pid belongs to another process now.
func (p proc) ended() bool {
	fields, ok := procStat(p.pid)
	const startField = 22 - 3
	return !ok || len(fields) <= startField || fields[startField] != strconv.FormatUint(p.start, 10) ||
		proc{state: fields[0]}.dead()
}

// signal sends sig to p if it is still the process the walk found. It goes through
// a pidfd (pidfd_open(2)), which names that one process for good: between the walk
// and the signal p may have ended and been reaped, and its pid (pid_max is often
// only 32768) given to a process that is not the run's.
func (p proc) signal(sig syscall.Signal) {
	fd, err := unix.PidfdOpen(p.pid, 0)
	if err == unix.ENOSYS { // before Linux 5.3: a plain kill, after the same check
		if !p.ended() {
			_ = syscall.Kill(p.pid, sig)
		}
		return
	}
	if err != nil {
		return // gone
	}
	defer unix.Close(fd)
	if !p.ended() { // the pidfd is p's, not a newer process's with its pid
		_ = unix.PidfdSendSignal(fd, sig, nil, 0)
	}
}

// commandLine returns the command line of process pid, shortened, for a report.
func commandLine(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return "?"
	}
	s := strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " "))
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// logProcs adds processes to the run's pid file: the supervisor's walk finds
// processes that did not log themselves (a C program a test runs, a shell), and
// what they made counts as the run's too.
func logProcs(path string, procs []proc) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return
	}
	defer f.Close()
	var b strings.Builder
	for _, p := range procs {
		fmt.Fprintf(&b, "%d %d\n", p.pid, p.start)
	}
	_, _ = f.WriteString(b.String())
}
