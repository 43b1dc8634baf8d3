//go:build linux

package cleaner

import (
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/caps"
	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

func TestMain(m *testing.M) {
	ipctest.Helper("create", helperCreate)
	ipctest.Helper("clean", helperClean)
	ipctest.GivesSegmentsAway() // giveAway
	ipctest.Main(m, nil)
}

// helperCreate creates a segment with mode args[0] (octal), prints its id and
// exits; with "stay" as args[1] it waits until its standard input is closed first.
func helperCreate(args []string) int {
	mode, _ := strconv.ParseInt(args[0], 8, 32)
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 64, unix.IPC_CREAT|int(mode))
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("id", id)
	if len(args) > 1 && args[1] == "stay" {
		_, _ = io.Copy(io.Discard, os.Stdin)
	}
	return 0
}

// helperClean runs RemoveOrphans on the ids in args and prints what it removed.
// Running it in a separate process lets the test run it as an unprivileged user.
func helperClean(args []string) int {
	var ids []int
	for _, a := range args {
		id, _ := strconv.Atoi(a)
		ids = append(ids, id)
	}
	removed, err := RemoveOrphans(ids)
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Println("removed", strings.Trim(fmt.Sprint(removed), "[]"))
	return 0
}

// users decides who "you" are. As root the segments and the cleaner run as the
// unprivileged user nobody, so that a cleaner that ignores its filter can only
// ever remove nobody's segments, never the machine's; otherwise as yourself.
//
// Root acts for nobody with its capabilities, not its uid: CAP_SETUID and
// CAP_SETGID start the processes as nobody, CAP_SYS_ADMIN gives nobody's segments
// away and removes them at the end. Root without them (a container that dropped
// CAP_SYS_ADMIN, as Docker does unless told otherwise) runs everything as itself.
type users struct {
	t        *testing.T // the top-level test: StartHelperAs's copy of the binary lives as long as it
	root     bool       // the segments and the cleaner are nobody's
	uid, gid uint32
}

func newUsers(t *testing.T) *users {
	u := &users{t: t, uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}
	switch {
	case os.Geteuid() != 0:
	case caps.Has(unix.CAP_SYS_ADMIN) && caps.Has(unix.CAP_SETUID) && caps.Has(unix.CAP_SETGID):
		u.root = true
		u.uid, u.gid = reexec.Nobody()
	default:
		t.Log("root without CAP_SYS_ADMIN, CAP_SETUID or CAP_SETGID (a container?): the segments and the cleaner run as root itself, not as nobody")
	}
	return u
}

func (u *users) start(name string, args ...string) *ipctest.Proc {
	if u.root {
		return ipctest.StartHelperAs(u.t, u.uid, u.gid, name, args...)
	}
	return ipctest.StartHelper(u.t, name, args...)
}

// create makes a segment as "you" in a helper process; if stay, the creator keeps
// running until the test ends, otherwise it has exited when create returns.
func (u *users) create(mode string, stay bool) int {
	args := []string{mode}
	if stay {
		args = append(args, "stay")
	}
	return createWith(u.t, u.start("create", args...), !stay)
}

// createWith reads the id from a create helper, waits for it to exit if it
// should, and removes the segment when the test ends.
func createWith(t *testing.T, p *ipctest.Proc, wait bool) int {
	t.Helper()
	line := p.Expect(t, "id ", 10*time.Second)
	id, err := strconv.Atoi(strings.TrimPrefix(line, "id "))
	require.NoError(t, err, "helper printed %q", line)
	t.Cleanup(func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
	if wait {
		require.Equal(t, 0, p.Wait(t).ExitCode)
	}
	return id
}

// giveAway makes uid the owner of segment id, of group gid and mode 0600 (shmctl
// IPC_SET); the creator (shm_perm.cuid) stays the same. The buffer is filled by
// hand: IPC_STAT would need read permission, which root without CAP_IPC_OWNER
// lacks on nobody's segment.
func giveAway(t *testing.T, id int, uid, gid uint32) {
	var ds unix.SysvShmDesc
	ds.Perm.Uid, ds.Perm.Gid, ds.Perm.Mode = uid, gid, 0o600
	_, err := unix.SysvShmCtl(id, unix.IPC_SET, &ds)
	require.NoError(t, err)
}

// otherUID is a uid that is not "you" and has no user name.
func otherUID(t *testing.T) uint32 {
	for uid := uint32(4242); uid < 5000; uid++ {
		if _, err := user.LookupId(strconv.Itoa(int(uid))); err != nil {
			return uid
		}
	}
	t.Fatal("no free uid between 4242 and 4999")
	return 0
}

// shmDest is the SHM_DEST mode bit (<linux/shm.h>): marked for removal.
const shmDest = 0o1000

type cleanCase struct {
	name      string
	id        int
	candidate bool // passed to RemoveOrphans
	remove    bool // must be removed
	absent    bool // removed by the test before the cleaner runs
	why       string
}

func TestRemoveOrphans(t *testing.T) {
	ipctest.NoLeaks(t)
	u := newUsers(t)
	var cases []cleanCase
	add := func(c cleanCase) { cases = append(cases, c) }

	add(cleanCase{name: "your orphan", id: u.create("600", false), candidate: true, remove: true,
		why: "it is yours, nobody is attached and its creator has exited"})
	add(cleanCase{name: "its creator is alive", id: u.create("600", true), candidate: true,
		why: "its creator (shm_cpid) still runs and may attach it again"})
	attached := u.create("644", false)
	ipctest.Attach(t, attached, unix.SHM_RDONLY) // mode 644 lets anyone read it
	add(cleanCase{name: "attached", id: attached, candidate: true,
		why: "shm_nattch is 1: a process uses it; IPC_RMID would leave its memory alone until the last detach, but nobody could attach it again"})
	givenAway := u.create("600", false)
	giveAway(t, givenAway, otherUID(t), u.gid)
	add(cleanCase{name: "given to another user", id: givenAway, candidate: true,
		why: "its owner (shm_perm.uid) is another user. The kernel would still let you remove it, because you created it (shm_perm.cuid), so only your filter protects it"})
	if u.root {
		// An orphan of root's, mode 0600: the cleaner (running as nobody) may not
		// even read it, and IPC_STAT answers EACCES.
		add(cleanCase{name: "another user's orphan you may not read", id: createWith(t, ipctest.StartHelper(t, "create", "600"), true), candidate: true,
			why: "IPC_STAT fails with EACCES: you cannot check it (and it is not yours); skip it instead of failing"})
	} else if os.Geteuid() != 0 {
		t.Log("not root: the case of another user's unreadable segment is left out (run the tests as root to include it: go test -exec sudo)")
	} else {
		t.Log("the segments are root's own: the case of another user's unreadable segment is left out")
	}
	if !u.root && caps.Has(unix.CAP_IPC_OWNER) {
		t.Log("the cleaner has CAP_IPC_OWNER, which reads any segment: the case of your orphan with mode 0000 is left out")
	} else {
		add(cleanCase{name: "your orphan with mode 0000", id: u.create("000", false), candidate: true,
			why: "IPC_STAT fails with EACCES even for its owner, whose mode bits grant nothing: you cannot check it, so leave it alone"})
	}
	gone := u.create("600", false)
	_, err := unix.SysvShmCtl(gone, unix.IPC_RMID, nil)
	require.NoError(t, err)
	add(cleanCase{name: "already removed", id: gone, candidate: true, absent: true,
		why: "its id is no longer valid (EINVAL): skip it, it is not an error"})
	add(cleanCase{name: "an orphan you were not asked about", id: u.create("600", false),
		why: "it is not among the candidates: a cleaner must only ever touch the ids it was given"})
	add(cleanCase{name: "your second orphan", id: u.create("600", false), candidate: true, remove: true,
		why: "it is yours, nobody is attached and its creator has exited"})

	var args []string
	var want []int
	for _, c := range cases {
		if c.candidate {
			args = append(args, strconv.Itoa(c.id))
			if c.remove {
				want = append(want, c.id)
			}
		}
	}
	r := u.start("clean", args...).Wait(t)
	require.Equal(t, 0, r.ExitCode, "RemoveOrphans(%v) as uid %d failed:\n%s%s"+
		"(an EACCES, permission denied, from IPC_STAT means a segment you may not read: you cannot check it, skip it)",
		args, u.uid, r.Stdout, r.Stderr)
	got := strings.Fields(strings.TrimPrefix(strings.TrimSpace(r.Stdout), "removed"))
	assert.Equal(t, strings.Fields(strings.Trim(fmt.Sprint(want), "[]")), got,
		"RemoveOrphans(%v) must return the ids it removed, in the order of its argument", args)

	for _, c := range cases {
		if c.absent {
			continue // the order check above covers it: it must not be in the result
		}
		t.Run(c.name, func(t *testing.T) {
			seg, exists, err := procsysv.FindShm(c.id)
			require.NoError(t, err)
			marked := exists && seg.Mode&shmDest != 0 // IPC_RMID while attached: destroyed at the last detach
			if c.remove {
				assert.False(t, exists, "segment %d must be removed: %s", c.id, c.why)
			} else {
				assert.True(t, exists && !marked, "segment %d must be kept (exists %v, marked for removal %v): %s", c.id, exists, marked, c.why)
			}
		})
	}
}

func TestRemoveOrphansNoCandidates(t *testing.T) {
	ipctest.NoLeaks(t)
	u := newUsers(t)
	orphan := u.create("600", false)
	r := u.start("clean").Wait(t)
	require.Equal(t, 0, r.ExitCode, "RemoveOrphans(nil) failed:\n%s%s", r.Stdout, r.Stderr)
	assert.Equal(t, "removed", strings.TrimSpace(r.Stdout), "RemoveOrphans(nil) must remove nothing")
	_, exists, err := procsysv.FindShm(orphan)
	require.NoError(t, err)
	assert.True(t, exists, "with no candidates, RemoveOrphans removed segment %d anyway: never look beyond the ids you were given", orphan)
}
