//go:build linux

package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/06-sync/fastring"
	"github.com/learn-sysv/shm-course/06-sync/header"
	"github.com/learn-sysv/shm-course/06-sync/semring"
	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/reexec"
	"github.com/learn-sysv/shm-course/internal/sem"
)

const interrupted = "06-sync: interrupt: cleaning up and exiting\n"

// The lesson program as a helper, which StartHelperAs can run as another user.
func init() { ipctest.Helper("monitor-program", lesson.Entry(name, usage, run)) }

// TestMonitorWatchesAStream runs a producer and a consumer, one of them slowed down
// with -delay, and a monitor: started before them (it finds the segment by its key
// while the first side waits) or after they met (the key is 0 then: it finds the
// segment through the set). Its plain lines show the stream moving and the waiting
// side asleep; it exits 0 when the stream ends and names the total.
func TestMonitorWatchesAStream(t *testing.T) {
	t.Parallel()
	const n = 150
	fastBytes := n*fastring.RecordSize(1024) + fastring.RecordSize(trailerSize) + 8
	tests := []struct {
		name, transport, slow string
		monitorFirst          bool
		progress              string // the counter in the plain line
		asleep                string // a plain line with the other side asleep
		ended                 string
	}{
		{"semring, slow consumer", "semring", "consumer", false,
			`received (\d+)`, `8 of 8 slots full.*EMPTY 0 \(1 waiting\)`,
			fmt.Sprintf("-> the consumer took the end-of-stream marker: %d slots went through the ring\n", n+2)},
		{"semring, slow producer, monitor first", "semring", "producer", true,
			`received (\d+)`, `0 of 8 slots full.*FULL 0 \(1 waiting\)`,
			fmt.Sprintf("-> the consumer took the end-of-stream marker: %d slots went through the ring\n", n+2)},
		{"fast, slow consumer, monitor first", "fast", "consumer", true,
			`head (\d+)`, `producer flag 1, semaphore 1 = 0 \(1 waiting\)`,
			fmt.Sprintf("-> the consumer read the end-of-stream record: %s bytes went through the ring\n", group(fastBytes))},
		{"fast, slow producer", "fast", "producer", false,
			`head (\d+)`, `consumer flag 1, semaphore 0 = 0 \(1 waiting\)`,
			fmt.Sprintf("-> the consumer read the end-of-stream record: %s bytes went through the ring\n", group(fastBytes))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, key := testKey(t)
			common := []string{"-key", key, "-transport", tt.transport, "-wait", "20s"}
			args := map[string][]string{
				"consumer": append([]string{"consumer"}, common...),
				"producer": append([]string{"producer", "-messages", strconv.Itoa(n)}, common...),
			}
			args[tt.slow] = append(args[tt.slow], "-delay", "15ms")
			var m *ipctest.Proc
			if tt.monitorFirst {
				m = ipctest.StartProgram(t, "monitor", "-key", key, "-wait", "20s")
				m.Expect(t, "waiting up to 20s for a producer or a consumer: nothing is under key "+key, 10*time.Second)
			}
			c := ipctest.StartProgram(t, args["consumer"]...)
			c.Expect(t, "waiting up to 20s for the producer", 10*time.Second)
			if tt.monitorFirst {
				// Only once the monitor has found the segment by its key may the
				// producer come: then both sides mark it for removal.
				m.Expect(t, "it still has the key, so the producer and consumer have not both arrived yet", 10*time.Second)
			}
			p := ipctest.StartProgram(t, args["producer"]...)
			if !tt.monitorFirst {
				p.Expect(t, "Send 150 messages", 10*time.Second) // both have marked the segment for removal
				m = ipctest.StartProgram(t, "monitor", "-key", key)
			}
			r := m.Wait(t)
			rc, rp := c.Wait(t), p.Wait(t)
			require.Equal(t, 0, rc.ExitCode, "consumer stderr: %s", rc.Stderr)
			require.Equal(t, 0, rp.ExitCode, "producer stderr: %s", rp.Stderr)
			assertVerified(t, rc.Stdout, n)

			assert.Equal(t, 0, r.ExitCode, "monitor stdout:\n%s", r.Stdout)
			assert.Empty(t, r.Stderr)
			if tt.monitorFirst {
				assert.Contains(t, r.Stdout, "it still has the key, so the producer and consumer have not both arrived yet")
			} else {
				assert.Regexp(t, fmt.Sprintf(`(?m)^-> [0-9a-f]+-[0-9a-f]+ rw-s 00000000 \S+ \d+ /SYSV%08x \(deleted\)$`, uint32(mustKey(t, key))), r.Stdout,
					"found through the set: a peer's maps line")
				assert.Regexp(t, `/proc/sysvipc/shm: segment \d+, key 0x00000000, mode 1600 \(01000 is SHM_DEST: marked for removal\)`, r.Stdout)
			}
			assert.Contains(t, r.Stdout, "shmat(")
			assert.Contains(t, r.Stdout, ", NULL, SHM_RDONLY)\n")
			assert.Contains(t, r.Stdout, tt.ended)

			var counts []int
			lines := plainLines(r.Stdout, tt.transport)
			for _, line := range lines {
				if m := regexp.MustCompile(tt.progress).FindStringSubmatch(line); assert.NotNil(t, m, line) {
					v, _ := strconv.Atoi(m[1])
					counts = append(counts, v)
				}
			}
			require.GreaterOrEqual(t, len(counts), 3, "a line a second for a stream of about 2 s, and the last:\n%s", r.Stdout)
			for i := 1; i < len(counts); i++ {
				assert.LessOrEqual(t, counts[i-1], counts[i], "the counter never goes back: %v", counts)
			}
			assert.Less(t, counts[0], counts[len(counts)-1], "the monitor saw the stream move: %v", counts)
			assert.Regexp(t, tt.asleep, strings.Join(lines, "\n"), "the side that waits for the slow one is seen asleep")
			first := `producer pid \d+ running, consumer pid \d+ running$`
			if tt.monitorFirst {
				// It may find the segment before the consumer that made it has
				// claimed its role.
				first = `producer not here yet, consumer (not here yet|pid \d+ running)$`
			}
			assert.Regexp(t, first, lines[0])
			assert.Regexp(t, ` - \(- waiting\)`, lines[len(lines)-1], "the last line: the set is gone (the peers may not have exited yet)")
		})
	}
}

// TestMonitorChangesNothing pauses a stream (both sides wait an hour after the
// first message), lets a monitor watch it, stops the monitor with Ctrl-C, and
// compares every byte of the segment and both semaphores before and after. While
// the monitor runs, its mapping of the segment has no write permission.
func TestMonitorChangesNothing(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"semring", "fast"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			_, key := testKey(t)
			common := []string{"-key", key, "-transport", transport, "-delay", "1h", "-wait", "20s"}
			c := ipctest.StartProgram(t, append([]string{"consumer"}, common...)...)
			c.Expect(t, "waiting up to 20s for the producer", 10*time.Second)
			p := ipctest.StartProgram(t, append([]string{"producer", "-messages", "5"}, common...)...)
			p.Expect(t, "Send 5 messages", 10*time.Second)
			shmid := atoi(t, regexp.MustCompile(`-> id (\d+): this process creates`).FindStringSubmatch(c.Stdout()))
			set := sem.FromID(atoi(t, regexp.MustCompile(`-> semaphore set id (\d+)`).FindStringSubmatch(c.Stdout())))
			seg := ipctest.Attach(t, shmid, unix.SHM_RDONLY)

			// Paused: the consumer has taken message 0, and both sleep in -delay.
			require.Eventually(t, func() bool { return taken(t, transport, seg) }, 10*time.Second, 5*time.Millisecond)
			time.Sleep(300 * time.Millisecond) // past the last post and store of each side
			before, semsBefore := bytes.Clone(seg), semValues(t, set)
			nattch := fewestAttached(t, shmid)

			m := ipctest.StartProgram(t, "monitor", "-key", key)
			m.Expect(t, "; producer pid", 10*time.Second)
			m.Expect(t, "; producer pid", 10*time.Second) // a second look, a second later
			assert.Equal(t, nattch+1, fewestAttached(t, shmid), "the monitor is attached")
			maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", m.Pid()))
			require.NoError(t, err)
			assert.Regexp(t, fmt.Sprintf(`(?m)^[0-9a-f]+-[0-9a-f]+ r--s 00000000 \S+ %d +/SYSV%08x \(deleted\)$`, shmid, uint32(mustKey(t, key))), string(maps),
				"the monitor's mapping of the segment is read-only (r--s)")
			r := m.Interrupt(t)
			assert.Equal(t, lesson.ExitInterrupted, r.ExitCode)
			assert.Equal(t, interrupted, r.Stderr)

			assert.True(t, bytes.Equal(before, seg), "the monitor changed the segment")
			assert.Equal(t, semsBefore, semValues(t, set), "the monitor changed the semaphores")
			assert.Equal(t, nattch, fewestAttached(t, shmid), "the monitor's attachment went with it")
			for _, peer := range []*ipctest.Proc{p, c} {
				r := peer.Interrupt(t)
				assert.Equal(t, lesson.ExitInterrupted, r.ExitCode, "stderr: %s", r.Stderr)
				assert.Equal(t, interrupted, r.Stderr)
			}
		})
	}
}

// TestMonitorAttachmentIsReadOnly attaches a segment the way the monitor does and
// checks that a store through it faults and changes nothing.
func TestMonitorAttachmentIsReadOnly(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 4096, 0o600)
	ipctest.Attach(t, id, 0)[0] = 42
	seg, err := attachReadOnly(id)
	require.NoError(t, err)
	t.Cleanup(func() { _ = unix.SysvShmDetach(seg) })
	err = lesson.RecoverFault(func() { seg[0] = 1 })
	var fault *lesson.FaultError
	require.ErrorAs(t, err, &fault, "a store through a SHM_RDONLY attachment faults")
	assert.Equal(t, byte(42), seg[0])
}

// TestMonitorStreamStopsEarly: peers killed. The producer killed mid-stream: the
// consumer notices, removes the set, and the monitor says the stream stopped early.
// Both killed, or the consumer killed while it waited alone: the set stays (and the
// segment too, in the second case, still under its key), and the monitor says so.
// Exit status 1 every time.
func TestMonitorStreamStopsEarly(t *testing.T) {
	tests := []struct {
		name     string
		producer bool // start a producer
		kill     []string
		stderr   string
	}{
		{"producer killed", true, []string{"producer"}, `^06-sync: semaphore set \d+ was removed before the end of the stream \(producer pid \d+ gone, consumer pid \d+ (running|gone)\): the run stopped early\n$`},
		{"both killed", true, []string{"producer", "consumer"}, `^06-sync: every process of the run is gone \(producer pid \d+ gone, consumer pid \d+ gone\) and semaphore set \d+ is still there: they were killed before they could clean up \(the next run under key 0x[0-9a-f]{8} removes what they left\)\n$`},
		{"the consumer killed while it waited", false, []string{"consumer"}, `^06-sync: every process of the run is gone \(producer not here yet, consumer pid \d+ gone\) and semaphore set \d+ is still there: they were killed before they could clean up \(the next run under key 0x[0-9a-f]{8} removes what they left\)\n$`},
	}
	t.Parallel()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, key := testKey(t)
			common := []string{"-key", key, "-wait", "20s"}
			peers := map[string]*ipctest.Proc{"consumer": ipctest.StartProgram(t, append([]string{"consumer"}, common...)...)}
			peers["consumer"].Expect(t, "waiting up to 20s for the producer", 10*time.Second)
			if tt.producer {
				// The producer sends one message and waits an hour; the consumer waits for
				// the next in semtimedop, and checks every 250 ms that the producer is alive.
				peers["producer"] = ipctest.StartProgram(t, append([]string{"producer", "-delay", "1h"}, common...)...)
				peers["producer"].Expect(t, "Send 100000 messages", 10*time.Second)
			}
			out := peers["consumer"].Stdout()
			shmid := atoi(t, regexp.MustCompile(`-> id (\d+): this process creates`).FindStringSubmatch(out))
			setID := atoi(t, regexp.MustCompile(`-> semaphore set id (\d+)`).FindStringSubmatch(out))
			m := ipctest.StartProgram(t, "monitor", "-key", key)
			m.Expect(t, "; producer ", 10*time.Second)
			for _, role := range tt.kill {
				peers[role].Signal(t, syscall.SIGKILL)
				peers[role].Wait(t)
			}
			r := m.Wait(t)
			assert.Equal(t, 1, r.ExitCode)
			assert.Regexp(t, tt.stderr, r.Stderr)
			if len(tt.kill) == 1 && tt.producer {
				rc := peers["consumer"].Wait(t)
				assert.Equal(t, 1, rc.ExitCode, "the consumer noticed: %s", rc.Stderr)
				return
			}
			// What the killed run left, which the monitor reported: not the monitor's to
			// remove, and a new run would; the test does.
			assert.NoError(t, sem.FromID(setID).Remove())
			_, _ = unix.SysvShmCtl(shmid, unix.IPC_RMID, nil) // marked already if both had met
		})
	}
}

// TestMonitorAnotherUsersRun: the segment and the set are 0600, so another user's
// monitor is refused in one line: by shmat while the consumer waits alone, by semctl
// once the two have met.
func TestMonitorAnotherUsersRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running the monitor as another user needs root; run the tests as root to see this")
	}
	// Not in parallel with other tests (see TestKeyTakenByAnotherUser).
	uid, gid := reexec.Nobody()
	_, key := testKey(t)
	common := []string{"-key", key, "-wait", "20s"}
	c := ipctest.StartProgram(t, append([]string{"consumer"}, common...)...)
	c.Expect(t, "waiting up to 20s for the producer", 10*time.Second)
	r := ipctest.StartHelperAs(t, uid, gid, "monitor-program", "monitor", "-key", key, "-wait", "5s").Wait(t)
	ipctest.AssertOneLineError(t, r, 1, ", NULL, SHM_RDONLY): EACCES (permission denied): the segment's mode does not let you read it; run the monitor as the user who runs the producer and consumer, or as root\n")
	assert.Equal(t, 1, strings.Count(r.Stderr, "EACCES"), "the errno named once: %s", r.Stderr)

	p := ipctest.StartProgram(t, append([]string{"producer", "-delay", "1h"}, common...)...)
	p.Expect(t, "Send 100000 messages", 10*time.Second)
	r = ipctest.StartHelperAs(t, uid, gid, "monitor-program", "monitor", "-key", key, "-wait", "5s").Wait(t)
	ipctest.AssertOneLineError(t, r, 1, "under key "+key+": EACCES (permission denied): its mode does not let you read it; run the monitor as the user who runs the producer and consumer, or as root")
	assert.Equal(t, 1, strings.Count(r.Stderr, "EACCES"), "the errno named once: %s", r.Stderr)
	// The consumer first: it waits in semtimedop, where the producer's cleanup (which
	// removes the set) would end it with an error; the producer sleeps in -delay.
	for _, peer := range []*ipctest.Proc{c, p} {
		r := peer.Interrupt(t)
		assert.Equal(t, lesson.ExitInterrupted, r.ExitCode, "stderr: %s", r.Stderr)
	}
}

// TestMonitorNotOurs points the monitor at objects that are not the lesson's: it
// says so in one line and exits 1.
func TestMonitorNotOurs(t *testing.T) {
	t.Parallel()
	// hdr is a common header for a 4096-byte segment (the size at offset 32), or,
	// with a size given, one that records that size instead.
	hdr := func(magic, version, kind, kindVersion uint32, size ...uint64) []byte {
		b := make([]byte, 40)
		for i, v := range []uint32{magic, version, kind, kindVersion} {
			binary.LittleEndian.PutUint32(b[4*i:], v)
		}
		binary.LittleEndian.PutUint64(b[header.OffSegSize:], append(size, 4096)[0])
		return b
	}
	tests := []struct {
		name    string
		size    int    // a segment of this size under the key, 0 for none
		content []byte // at its start
		nsems   int    // a set of this many semaphores under the key, 0 for none
		want    string
	}{
		{"another program's segment", 4096, []byte("ABCD"), 0, "is not this lesson's; use the -key of the producer and consumer"},
		{"another program's segment, magic shown", 4096, []byte("ABCD"), 0, "magic 0x44434241, want 0x434e5953 (\"SYNC\")"},
		{"an unknown transport", 4096, hdr(header.Magic, header.Version, 7, 1), 0, "transport kind 7 is none of this lesson's (1 semring, 2 fast)"},
		{"a newer semring layout", 4096, hdr(header.Magic, header.Version, header.KindSemring, 99), 0, "semring layout version 99, want 1"},
		{"a header version this program does not know", 4096, hdr(header.Magic, 2, header.KindFast, 1), 0, "header version 2, want 1"},
		{"a semring segment with no ring in it", 4096, hdr(header.Magic, header.Version, header.KindSemring, semring.KindVersion), 0, "inconsistent ring header"},
		{"a header that gives another segment size", 4096, hdr(header.Magic, header.Version, header.KindFast, 1, 8192), 0, "its header says 8192 bytes, but the segment has 4096 (shm_segsz)"},
		{"a segment smaller than the header", 16, nil, 0, "is 16 bytes, too small for this lesson's header"},
		{"another program's semaphore set", 0, nil, 3, "holds semaphore set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key, keyArg := testKey(t)
			if tt.size > 0 {
				id, err := unix.SysvShmGet(int(key), tt.size, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
				require.NoError(t, err)
				t.Cleanup(func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
				copy(ipctest.Attach(t, id, 0), tt.content)
			}
			if tt.nsems > 0 {
				set, err := sem.Create(key, 0o600, make([]int, tt.nsems)...)
				require.NoError(t, err)
				t.Cleanup(func() { _ = set.Remove() })
			}
			r := ipctest.RunProgram(t, "monitor", "-key", keyArg, "-wait", "5s")
			ipctest.AssertOneLineError(t, r, 1, tt.want)
		})
	}
}

// TestMonitorWaits: with nothing under the key, or only what a dead run left, or a
// segment whose creator has not finished formatting it, the monitor says what it
// waits for, and gives up after -wait with one line and exit status 1.
func TestMonitorWaits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prepare func(t *testing.T, key ftok.Key) string // returns what it waits for
	}{
		{"nothing", func(t *testing.T, key ftok.Key) string {
			return fmt.Sprintf("a producer or a consumer: nothing is under key %v (start them with 'go run ./06-sync consumer -key %v' and 'go run ./06-sync producer -key %v')", key, key, key)
		}},
		{"a dead run's semaphore set", func(t *testing.T, key ftok.Key) string {
			r := ipctest.RunHelper(t, "leave-set", key.String(), "2")
			require.Equal(t, 0, r.ExitCode, r.Stderr)
			id := atoi(t, []string{"", strings.TrimSpace(r.Stdout)})
			t.Cleanup(func() { _ = sem.FromID(id).Remove() })
			return fmt.Sprintf("a new run: semaphore set %d under key %v was left by a run whose processes are gone (the next run removes it)", id, key)
		}},
		{"a segment being formatted", func(t *testing.T, key ftok.Key) string {
			id, err := unix.SysvShmGet(int(key), 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
			require.NoError(t, err)
			t.Cleanup(func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
			return fmt.Sprintf("segment %d to be initialised (its magic is still 0)", id)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key, keyArg := testKey(t)
			waitingFor := tt.prepare(t, key)
			start := time.Now()
			r := ipctest.RunProgram(t, "monitor", "-key", keyArg, "-wait", "300ms")
			assert.Less(t, time.Since(start), 10*time.Second)
			ipctest.AssertOneLineError(t, r, 1, fmt.Sprintf("nothing to watch under key %v after 300ms: still waiting for %s\n", key, waitingFor))
			assert.Contains(t, r.Stdout, "\n   waiting up to 300ms for "+waitingFor+"\n")
		})
	}
}

func TestMonitorUsage(t *testing.T) {
	t.Parallel()
	r := ipctest.RunProgram(t, "monitor", "-h")
	ipctest.AssertUsage(t, r, "monitor", "-key", "-keyfile", "-proj", "-wait")
	assert.NotContains(t, r.Stdout, "  -messages int", "the monitor takes only the meeting flags and -wait")
	assert.NotContains(t, r.Stdout, "  -delay")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"monitor", "-messages", "5"}, "flag provided but not defined: -messages"},
		{[]string{"monitor", "-wait", "0s"}, "-wait 0s: must be positive"},
		{[]string{"monitor", "-key", "0x12zz"}, `-key "0x12zz": want a 32-bit number, hex like 0x06010203 or decimal`},
		{[]string{"monitor", "extra"}, "unexpected argument"},
		{[]string{"producer", "-delay", "-1s"}, "-delay -1s: cannot be negative"},
		{[]string{"consumer", "-delay", "soon"}, `invalid value "soon" for flag -delay`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			ipctest.AssertOneLineError(t, ipctest.RunProgram(t, tt.args...), lesson.ExitUsage, tt.want)
		})
	}
}

// plainLines returns the monitor's one-line-a-second reports for transport.
func plainLines(out, transport string) []string {
	var lines []string
	for _, line := range strings.Split(out, "\n") {
		if regexp.MustCompile(`^\d+\.\ds ` + transport + ` `).MatchString(line) {
			lines = append(lines, line)
		}
	}
	return lines
}

// taken reports whether the consumer has taken the first message and nothing is in
// the ring.
func taken(t *testing.T, transport string, seg []byte) bool {
	if transport == "fast" {
		st, err := fastring.Observe(seg)
		require.NoError(t, err)
		return st.Head > 0 && st.Head == st.Tail
	}
	st, err := semring.Observe(seg)
	require.NoError(t, err)
	return st.Received == 1 && st.Sent == 1
}

func semValues(t *testing.T, set *sem.Set) [2]int {
	var v [2]int
	for num := range v {
		var err error
		v[num], err = set.Value(num)
		require.NoError(t, err)
	}
	return v
}

func attached(t *testing.T, shmid int) int {
	s, ok, err := procsysv.FindShm(shmid)
	require.NoError(t, err)
	require.True(t, ok, "segment %d exists", shmid)
	return s.Nattch
}

// fewestAttached is the segment's shm_nattch at its lowest over 50 ms. This test
// process has the segment attached, and while another test of the package starts
// a process with a plain fork (a user namespace makes Go fork rather than vfork),
// the child holds a copy of that attachment until it execs: for a moment nattch
// is one more than the processes that attached it.
func fewestAttached(t *testing.T, shmid int) int {
	fewest := attached(t, shmid)
	for i := 0; i < 10; i++ {
		time.Sleep(5 * time.Millisecond)
		fewest = min(fewest, attached(t, shmid))
	}
	return fewest
}

func atoi(t *testing.T, match []string) int {
	t.Helper()
	require.Len(t, match, 2, "a number in the output")
	n, err := strconv.Atoi(match[1])
	require.NoError(t, err)
	return n
}

func mustKey(t *testing.T, s string) ftok.Key {
	k, err := strconv.ParseUint(s, 0, 32)
	require.NoError(t, err)
	return ftok.Key(int32(uint32(k)))
}
