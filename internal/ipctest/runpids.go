//go:build linux

package ipctest

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
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

func startPidFile() (remove func()) {
	f, err := os.CreateTemp("", "shm-course-test-pids-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "ipctest: cannot log test pids (%v); only this process's objects count\n", err)
		return func() {}
	}
	_ = f.Chmod(0o666) // helpers that run as another user (nobody) log their pids too
	f.Close()
	os.Setenv(envPidFile, f.Name())
	return func() { os.Remove(f.Name()) }
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

// zombie reports whether process pid has ended and waits to be reaped.
func zombie(pid int) bool {
	fields, ok := procStat(pid)
	return ok && fields[0] == "Z" // field 3, the state
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
