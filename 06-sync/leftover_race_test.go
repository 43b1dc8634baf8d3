//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/06-sync/header"
	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/sem"
)

func init() {
	ipctest.Helper("leave-leftovers", helperLeaveLeftovers)
	ipctest.Helper("role-at-go", helperRoleAtGo)
}

// raceConfig is the ring shape of the leftovers and of the racing peers (the
// program's default -slots and -slotsize).
var raceConfig = ringConfig{Slots: 8, SlotSize: 4096}

// leftovers are the kinds of objects a crashed run can leave under the key, each
// made the way the crash makes it. The two racing peers must recognise every one as
// stale, remove it and meet on fresh objects.
var leftovers = []struct {
	name  string
	leave func(key ftok.Key) error
}{
	// The creator died between shmget and storing the magic.
	{"segment never initialised", func(key ftok.Key) error {
		_, err := unix.SysvShmGet(int(key), 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
		return err
	}},
	// The creator died between sem.Create's semget and its SETVAL: every
	// semaphore's last pid is 0 and sem_otime is 0.
	{"segment and set never initialised", func(key ftok.Key) error {
		if _, err := unix.SysvShmGet(int(key), 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600); err != nil {
			return err
		}
		_, values := semringTransport{}.Layout(raceConfig)
		id, _, errno := unix.Syscall(unix.SYS_SEMGET, uintptr(key), uintptr(len(values)), unix.IPC_CREAT|unix.IPC_EXCL|0o600)
		if errno != 0 {
			return errno
		}
		ipctest.ClaimSet(int(id)) // no operation names the run as its maker
		return nil
	}},
	// A producer killed while it waited for a consumer: published objects, fresh ring.
	{"producer crashed waiting", func(key ftok.Key) error {
		ep, err := createObjects(&quiet{}, key, semringTransport{}, raceConfig)
		if err != nil {
			return err
		}
		return ep.hdr.Claim(header.Producer)
	}},
	// The same, from a run of the other transport: stale all the same, not "start
	// both sides with the same -transport" (the peers race with the default, semring).
	{"fast producer crashed waiting", func(key ftok.Key) error {
		ep, err := createObjects(&quiet{}, key, fastTransport{}, raceConfig)
		if err != nil {
			return err
		}
		return ep.hdr.Claim(header.Producer)
	}},
	// Both sides killed mid-stream: messages 0..2 still in the ring, its indices
	// and semaphore values where the dead run left them.
	{"both crashed mid-stream", func(key ftok.Key) error {
		ep, err := createObjects(&quiet{}, key, semringTransport{}, raceConfig)
		if err != nil {
			return err
		}
		if err := ep.hdr.Claim(header.Producer); err != nil {
			return err
		}
		if err := ep.hdr.Claim(header.Consumer); err != nil {
			return err
		}
		out, err := semringTransport{}.Sender(ep.seg, ep.set)
		if err != nil {
			return err
		}
		msg := make([]byte, 100)
		for i := uint64(0); i < 3; i++ {
			fillMessage(msg, i)
			if err := out.Send(msg); err != nil {
				return err
			}
		}
		return nil
	}},
	// Everything removed but the set (both sides SIGKILLed after removing the
	// segment early).
	{"set alone", func(key ftok.Key) error {
		_, values := semringTransport{}.Layout(raceConfig)
		_, err := sem.Create(key, 0o600, values...)
		return err
	}},
}

// helperLeaveLeftovers leaves the leftover named args[0] under each key in
// args[1:], printing "shm ID" and "sem ID" for what it left, and exits: a crash.
func helperLeaveLeftovers(args []string) int {
	for _, k := range leftovers {
		if k.name != args[0] {
			continue
		}
		for _, arg := range args[1:] {
			v, _ := strconv.ParseUint(arg, 0, 32)
			key := ftok.Key(int32(uint32(v)))
			if err := k.leave(key); err != nil {
				fmt.Fprintf(os.Stderr, "leaving %q under %v: %v\n", k.name, key, err)
				return 1
			}
			if id, err := unix.SysvShmGet(int(key), 0, 0); err == nil {
				fmt.Println("shm", id)
			}
			if id, _, errno := unix.Syscall(unix.SYS_SEMGET, uintptr(key), 0, 0); errno == 0 {
				fmt.Println("sem", id)
			}
		}
		return 0
	}
	fmt.Fprintf(os.Stderr, "no leftover kind %q\n", args[0])
	return 2
}

// helperRoleAtGo prints "ready", waits for a line on stdin, then runs the program
// with args. Two of them released by the same write start within microseconds of
// each other: the race the launcher's two children run, made tight.
func helperRoleAtGo(args []string) int {
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, "reading the start signal:", err)
		return 1
	}
	return lesson.Entry(name, usage, run)(args)
}

// Two peers that start at the same moment over a crashed run's leftovers must both
// see them as stale, remove them without removing each other's new objects, and
// run the stream on fresh ones. Each kind is raced several times, each time under a
// new key, with both peers released by one start signal.
func TestPeersRaceOverLeftovers(t *testing.T) {
	t.Parallel()
	const rounds = 16
	for _, kind := range leftovers {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			keys := make([]string, rounds)
			for i := range keys {
				_, keys[i] = testKey(t)
			}
			left := ipctest.RunHelper(t, "leave-leftovers", append([]string{kind.name}, keys...)...)
			require.Equal(t, 0, left.ExitCode, left.Stderr)
			removeAfter(t, left.Stdout)
			both := 0
			for round, key := range keys {
				if racePeers(t, round, key) {
					both++
				}
			}
			t.Logf("both peers met the leftover in %d of %d rounds", both, rounds)
		})
	}
}

// racePeers releases a producer and a consumer at once under key and checks that
// the stream ran, that the leftover was recognised, and that nothing is left. It
// reports whether both of them met the leftover (the race the test is about).
func racePeers(t *testing.T, round int, key string) bool {
	t.Helper()
	producer, consumer, _ := releaseTogether(t, "-key", key, "-messages", "50", "-size", "100", "-wait", "3s")
	require.Equal(t, 0, producer.ExitCode, "round %d: producer\nstdout:\n%s\nstderr:\n%s\nconsumer stdout:\n%s", round, producer.Stdout, producer.Stderr, consumer.Stdout)
	require.Equal(t, 0, consumer.ExitCode, "round %d: consumer\nstdout:\n%s\nstderr:\n%s\nproducer stdout:\n%s", round, consumer.Stdout, consumer.Stderr, producer.Stdout)
	assert.Empty(t, producer.Stderr+consumer.Stderr, "round %d: nothing on standard error", round)
	assertVerified(t, consumer.Stdout, 50)
	assert.Contains(t, producer.Stdout+consumer.Stdout, "leftover", "round %d: one of them found the leftover", round)
	assertKeyFree(t, key)
	return strings.Contains(producer.Stdout, "leftover") && strings.Contains(consumer.Stdout, "leftover")
}

// releaseTogether runs a producer and a consumer with args, released by one start
// signal, and returns how each ended and how long after the release the later one
// did.
func releaseTogether(t *testing.T, args ...string) (producer, consumer ipctest.Result, took time.Duration) {
	t.Helper()
	var procs []*ipctest.Proc
	for _, role := range []string{"producer", "consumer"} {
		p := ipctest.StartHelper(t, "role-at-go", append([]string{role}, args...)...)
		p.Expect(t, "ready", 10*time.Second)
		procs = append(procs, p)
	}
	released := time.Now()
	for _, p := range procs {
		_, err := p.Stdin.Write([]byte("go\n"))
		require.NoError(t, err)
	}
	producer, consumer = procs[0].Wait(t), procs[1].Wait(t)
	return producer, consumer, time.Since(released)
}

// Two peers that start at the same moment over objects that are not this lesson's
// both refuse them with the ipcrm command, and leave them alone; neither waits out
// its -wait or fails with a stray error from the other's attempt.
func TestPeersRaceOverForeignObjects(t *testing.T) {
	t.Parallel()
	const rounds = 4
	tests := []struct {
		name  string
		leave func(t *testing.T, key ftok.Key) (check func(), want string)
	}{
		{"segment", func(t *testing.T, key ftok.Key) (func(), string) {
			id, err := unix.SysvShmGet(int(key), 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
			require.NoError(t, err)
			t.Cleanup(func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
			b := ipctest.Attach(t, id, 0)
			copy(b, "JUNK")
			return func() { assert.Equal(t, "JUNK", string(b[:4]), "the foreign segment is left alone") },
				fmt.Sprintf("remove it with 'ipcrm -m %d'", id)
		}},
		{"semaphore set", func(t *testing.T, key ftok.Key) (func(), string) {
			set, err := sem.Create(key, 0o600, 0, 0, 0, 0, 0)
			require.NoError(t, err)
			t.Cleanup(func() { _ = set.Remove() })
			return func() {
				_, err := set.Stat()
				assert.NoError(t, err, "the foreign set is left alone")
			}, fmt.Sprintf("remove it with 'ipcrm -s %d'", set.ID())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for round := 0; round < rounds; round++ {
				key, keyFlag := testKey(t)
				check, want := tt.leave(t, key)
				producer, consumer, took := releaseTogether(t, "-key", keyFlag, "-wait", "10s")
				for _, r := range []ipctest.Result{producer, consumer} {
					ipctest.AssertOneLineError(t, r, 1, want)
				}
				assert.Less(t, took, 5*time.Second, "round %d: a side waited (-wait 10s) for the other's objects", round)
				check()
			}
		})
	}
}

// assertKeyFree checks that no segment and no semaphore set holds key, and removes
// any that does: the key is a test's own (testKey), and a set whose creator died
// before initialising it has no last pid by which the package's leak check could
// tell it is this run's.
func assertKeyFree(t *testing.T, key string) {
	t.Helper()
	v, err := strconv.ParseUint(key, 0, 32)
	require.NoError(t, err)
	k := int(int32(uint32(v)))
	id, err := unix.SysvShmGet(k, 0, 0)
	if !assert.ErrorIs(t, err, unix.ENOENT, "a segment is left under key %s (removed now)", key) && err == nil {
		_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	}
	semid, _, errno := unix.Syscall(unix.SYS_SEMGET, uintptr(k), 0, 0)
	if !assert.True(t, errors.Is(errno, unix.ENOENT), "a semaphore set is left under key %s (semget: %v; removed now)", key, errno) && errno == 0 {
		_, _, _ = unix.Syscall(unix.SYS_SEMCTL, semid, 0, unix.IPC_RMID)
	}
}

// keyInUse reports whether a segment or a semaphore set holds key.
func keyInUse(key string) bool {
	v, _ := strconv.ParseUint(key, 0, 32)
	k := int(int32(uint32(v)))
	_, err := unix.SysvShmGet(k, 0, 0)
	_, _, errno := unix.Syscall(unix.SYS_SEMGET, uintptr(k), 0, 0)
	return err == nil || errno == 0
}

// removeAfter removes, when the test ends, the objects the leftover helper listed
// in out, in case a failing run left them.
func removeAfter(t *testing.T, out string) {
	t.Cleanup(func() {
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var kind string
			var id int
			if _, err := fmt.Sscan(line, &kind, &id); err != nil {
				continue
			}
			if kind == "shm" {
				_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
			} else {
				_, _, _ = unix.Syscall(unix.SYS_SEMCTL, uintptr(id), 0, unix.IPC_RMID)
			}
		}
	})
}
