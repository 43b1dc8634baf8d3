//go:build linux

package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/caps"
	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/reexec"
	"github.com/learn-sysv/shm-course/internal/shm"
)

func TestMain(m *testing.M) {
	// The program with the arguments given, for roles that tests run as nobody with
	// ipctest.StartHelperAs.
	ipctest.Helper(helperProgram, lesson.Entry(name, usage, run))
	ipctest.Helper(helperListen, listen)
	// TestIpcsLinesMatchIpcs makes nobody the owner of a segment.
	ipctest.GivesSegmentsAway()
	ipctest.Main(m, lesson.Entry(name, usage, run))
}

// newKeyedSegment creates a segment with a fresh ftok key, removed after the test.
func newKeyedSegment(t *testing.T, size, mode int) (ftok.Key, int) {
	t.Helper()
	key, _ := ipctest.UnusedKey(t)
	id, err := unix.SysvShmGet(int(key), size, unix.IPC_CREAT|unix.IPC_EXCL|mode)
	require.NoError(t, err)
	t.Cleanup(func() { _ = shm.RemoveIfThere(id) })
	return key, id
}

func findShm(t *testing.T, id int) (procsysv.Shm, bool) {
	t.Helper()
	s, ok, err := procsysv.FindShm(id)
	require.NoError(t, err)
	return s, ok
}

func TestStatMatchesProcSysvipc(t *testing.T) {
	ipctest.NoLeaks(t)
	key, id := newKeyedSegment(t, 5000, 0o640)
	ipctest.Attach(t, id, 0)

	ds, err := stat(id)
	require.NoError(t, err)
	s, ok := findShm(t, id)
	require.True(t, ok, "segment %d must be in /proc/sysvipc/shm", id)

	assert.Equal(t, key, ftok.Key(ds.Perm.Key))
	assert.Equal(t, s.Key, ftok.Key(ds.Perm.Key))
	assert.Equal(t, s.Mode, uint32(ds.Perm.Mode))
	assert.EqualValues(t, 0o640, ds.Perm.Mode)
	assert.Equal(t, s.Size, uint64(ds.Segsz))
	assert.EqualValues(t, 5000, ds.Segsz, "shm_segsz is the size asked for, not rounded to pages")
	assert.Equal(t, s.CPID, int(ds.Cpid))
	assert.Equal(t, os.Getpid(), int(ds.Cpid))
	assert.Equal(t, s.LPID, int(ds.Lpid))
	assert.Equal(t, os.Getpid(), int(ds.Lpid), "the last shmat was ours")
	assert.Equal(t, s.Nattch, int(ds.Nattch))
	assert.EqualValues(t, 1, ds.Nattch)
	assert.Equal(t, s.UID, ds.Perm.Uid)
	assert.Equal(t, s.GID, ds.Perm.Gid)
	assert.Equal(t, s.CUID, ds.Perm.Cuid)
	assert.Equal(t, s.CGID, ds.Perm.Cgid)
	assert.EqualValues(t, os.Geteuid(), ds.Perm.Uid)
	assert.Equal(t, s.Atime, int64(ds.Atime))
	assert.NotZero(t, ds.Atime, "attached, so atime is set")
	assert.Equal(t, s.Dtime, int64(ds.Dtime))
	assert.Zero(t, ds.Dtime, "never detached yet")
	assert.Equal(t, s.Ctime, int64(ds.Ctime))
}

// The printer must lay a segment out exactly as ipcs -m -i does, plus the key line.
func TestIpcsLinesMatchIpcs(t *testing.T) {
	ipcs, err := exec.LookPath("ipcs")
	if err != nil {
		t.Skip("ipcs (util-linux) is not installed")
	}
	ipctest.NoLeaks(t)
	_, id := newKeyedSegment(t, 5000, 0o640)
	// Make every field distinct from its neighbour, so that a printer that swaps
	// two of them fails: owner nobody (uid != cuid, gid != cgid; for tests run as
	// nobody, the ids below nobody's), a detach by us (det_time set), then an attach
	// by another process (lpid != cpid).
	ds, err := stat(id)
	require.NoError(t, err)
	ds.Perm.Uid, ds.Perm.Gid = reexec.Nobody()
	if ds.Perm.Uid == ds.Perm.Cuid { // the tests run as nobody: another owner then
		ds.Perm.Uid, ds.Perm.Gid = ds.Perm.Uid-1, ds.Perm.Gid-1
	}
	_, err = unix.SysvShmCtl(id, unix.IPC_SET, &ds)
	require.NoError(t, err)
	mem, err := unix.SysvShmAttach(id, 0, 0)
	require.NoError(t, err)
	require.NoError(t, unix.SysvShmDetach(mem))
	ipctest.AsRoleParent(t)
	p := ipctest.StartProgram(t, rolePeer, strconv.Itoa(id))
	p.Expect(t, "@@ ATTACHED", ipctest.Timeout)
	defer p.Wait(t)

	out, err := exec.Command(ipcs, "-m", "-i", strconv.Itoa(id)).Output()
	require.NoError(t, err)
	ds, err = stat(id)
	require.NoError(t, err)
	require.NotEqual(t, ds.Cpid, ds.Lpid, "precondition: fields differ")
	require.NotEqual(t, ds.Perm.Uid, ds.Perm.Cuid, "precondition: fields differ")

	var want []string
	for _, line := range strings.Split(string(out), "\n") {
		if line = strings.TrimRight(line, " "); line != "" {
			want = append(want, line)
		}
	}
	var got []string
	for _, line := range ipcsLines(id, &ds, time.Local) {
		if !strings.HasPrefix(line, "key=") { // the one line ipcs -m -i does not print
			got = append(got, line)
		}
	}
	assert.Equal(t, want, got)
}

func Example_ipcsLines() {
	var ds unix.SysvShmDesc
	ds.Perm.Key = 0
	ds.Perm.Mode = shmDest | 0o640
	ds.Segsz = 5000
	ds.Cpid, ds.Lpid, ds.Nattch = 4321, 4400, 1
	ds.Atime, ds.Ctime = 1700000005, 1700000000
	for _, line := range ipcsLines(32769, &ds, time.UTC) {
		fmt.Println(line)
	}
	fmt.Println("status:", status(uint32(ds.Perm.Mode)))
	// Output:
	// Shared memory Segment shmid=32769
	// key=0x00000000
	// uid=0	gid=0	cuid=0	cgid=0
	// mode=01640	access_perms=0640
	// bytes=5000	lpid=4400	cpid=4321	nattch=1
	// att_time=Tue Nov 14 22:13:25 2023
	// det_time=Not set
	// change_time=Tue Nov 14 22:13:20 2023
	// status: dest
}

func TestStatus(t *testing.T) {
	for _, c := range []struct {
		mode uint32
		want string
	}{
		{0o600, "-"},
		{shmDest | 0o600, "dest"},
		{shmLocked | 0o600, "locked"},
		{shmDest | shmLocked | 0o600, "dest locked"},
	} {
		assert.Equal(t, c.want, status(c.mode), "mode %#o", c.mode)
	}
}

func TestIPCSetChangesOnlyOwnerGroupAndPermBits(t *testing.T) {
	ipctest.NoLeaks(t)
	_, id := newKeyedSegment(t, 5000, 0o600)
	before, err := stat(id)
	require.NoError(t, err)
	waitForNextSecond(int64(before.Ctime))

	want := before
	want.Perm.Mode = shmDest | shmLocked | 0o640 // only 0640 may stick
	want.Segsz = 1
	want.Perm.Cuid = 4242
	_, err = unix.SysvShmCtl(id, unix.IPC_SET, &want)
	require.NoError(t, err)

	after, err := stat(id)
	require.NoError(t, err)
	assert.EqualValues(t, 0o640, after.Perm.Mode, "the low 9 bits changed, SHM_DEST and SHM_LOCKED did not")
	assert.EqualValues(t, 5000, after.Segsz, "IPC_SET does not change the size")
	assert.Equal(t, before.Perm.Cuid, after.Perm.Cuid, "IPC_SET does not change the creator")
	assert.Greater(t, int64(after.Ctime), int64(before.Ctime), "IPC_SET updates shm_ctime")
	s, ok := findShm(t, id)
	require.True(t, ok)
	assert.EqualValues(t, 0o640, s.Mode, "/proc/sysvipc/shm shows the new mode")
}

func TestOtherUserGetsEACCESAndEPERM(t *testing.T) {
	for _, c := range []struct {
		mode                 int
		wantStat, wantChange string
	}{
		{0o640, "EACCES", "EPERM"},       // "other" may not read: IPC_STAT refused
		{0o644, "0 (no error)", "EPERM"}, // may read, still not the owner
	} {
		t.Run(fmt.Sprintf("%#o", c.mode), func(t *testing.T) {
			ipctest.NoLeaks(t)
			_, id := newKeyedSegment(t, 5000, c.mode)
			ipctest.AsRoleParent(t)
			uid, gid := reexec.Nobody()
			p := ipctest.StartHelperAs(t, uid, gid, helperProgram, roleStranger, strconv.Itoa(id))
			r := p.Wait(t)
			require.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
			assert.Regexp(t, `IPC_STAT, &buf\): `+regexp.QuoteMeta(c.wantStat), r.Stdout)
			assert.Regexp(t, `IPC_SET, &buf\): `+c.wantChange, r.Stdout)
			assert.Regexp(t, `IPC_RMID, NULL\): `+c.wantChange, r.Stdout)

			ds, err := stat(id)
			require.NoError(t, err, "the segment must survive the other user's IPC_RMID")
			assert.EqualValues(t, c.mode, ds.Perm.Mode, "the other user's IPC_SET changed nothing")
		})
	}
}

// helperProgram runs the program in a helper process, so that a test can start a
// role as another user (ipctest.StartHelperAs).
const helperProgram = "program"

func TestSHMLockSetsLockedBit(t *testing.T) {
	ipctest.NoLeaks(t)
	_, id := newKeyedSegment(t, 5000, 0o600)
	if _, err := unix.SysvShmCtl(id, cmdSHMLock, nil); err != nil {
		t.Skipf("SHM_LOCK: %v (needs CAP_IPC_LOCK or room in RLIMIT_MEMLOCK)", err)
	}
	ds, err := stat(id)
	require.NoError(t, err)
	assert.NotZero(t, ds.Perm.Mode&shmLocked, "SHM_LOCKED in shm_perm.mode")
	s, _ := findShm(t, id)
	assert.NotZero(t, s.Mode&shmLocked, "SHM_LOCKED in /proc/sysvipc/shm")

	_, err = unix.SysvShmCtl(id, cmdSHMUnlock, nil)
	require.NoError(t, err)
	ds, err = stat(id)
	require.NoError(t, err)
	assert.Zero(t, ds.Perm.Mode&shmLocked, "SHM_UNLOCK clears SHM_LOCKED")
}

// IPC_RMID on an attached segment, step by step, with a second process.
func TestRMIDWhileAttached(t *testing.T) {
	ipctest.NoLeaks(t)
	key, id := newKeyedSegment(t, 5000, 0o600)
	mem, err := unix.SysvShmAttach(id, 0, 0)
	require.NoError(t, err)
	attached := true
	t.Cleanup(func() {
		if attached {
			_ = unix.SysvShmDetach(mem)
		}
	})
	copy(mem, "left before IPC_RMID")

	_, err = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	require.NoError(t, err)

	// Marked, not destroyed: key 0, SHM_DEST, still listed.
	ds, err := stat(id)
	require.NoError(t, err, "IPC_STAT still works on a marked segment")
	assert.Equal(t, ftok.Key(0), ftok.Key(ds.Perm.Key), "the key becomes IPC_PRIVATE")
	assert.EqualValues(t, shmDest|0o600, ds.Perm.Mode, "SHM_DEST (01000) is set")
	assert.Equal(t, "dest", status(uint32(ds.Perm.Mode)))
	s, ok := findShm(t, id)
	require.True(t, ok, "a marked segment stays in /proc/sysvipc/shm while attached")
	assert.Equal(t, ftok.Key(0), s.Key)
	assert.EqualValues(t, shmDest|0o600, s.Mode)

	// The key no longer finds it, and is free for a new segment.
	_, err = unix.SysvShmGet(int(key), 0, 0)
	assert.ErrorIs(t, err, unix.ENOENT)
	id2, err := unix.SysvShmGet(int(key), 5000, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	require.NoError(t, err, "IPC_CREAT|IPC_EXCL succeeds: the old segment no longer holds the key")
	assert.NotEqual(t, id, id2)
	_, err = unix.SysvShmCtl(id2, unix.IPC_RMID, nil)
	require.NoError(t, err)
	_, ok = findShm(t, id2)
	assert.False(t, ok, "IPC_RMID with nattch 0 destroys at once")

	// A second process attaches by id after IPC_RMID (Linux allows it).
	ipctest.AsRoleParent(t)
	p := ipctest.StartProgram(t, rolePeer, strconv.Itoa(id))
	line := p.Expect(t, "attached", 10*time.Second)
	p.Expect(t, "@@ ATTACHED", 10*time.Second)
	assert.Contains(t, line, `read "left before IPC_RMID"`)
	ds, err = stat(id)
	require.NoError(t, err)
	assert.EqualValues(t, 2, ds.Nattch)
	assert.Equal(t, p.Pid(), int(ds.Lpid), "the second process made the last shmat")

	// It detaches: one attachment left, the segment stays.
	_, err = p.Stdin.Write([]byte("\n"))
	require.NoError(t, err)
	p.Expect(t, "@@ DETACHED", 10*time.Second)
	require.Equal(t, 0, p.Wait(t).ExitCode)
	ds, err = stat(id)
	require.NoError(t, err)
	assert.EqualValues(t, 1, ds.Nattch)

	// The last detach destroys it.
	require.NoError(t, unix.SysvShmDetach(mem))
	attached = false
	_, ok = findShm(t, id)
	assert.False(t, ok, "destroyed at the last detach")
	_, err = stat(id)
	assert.ErrorIs(t, err, unix.EINVAL, "a destroyed id gives EINVAL")
}

func readProcUint(t *testing.T, file string) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/" + file)
	require.NoError(t, err)
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	require.NoError(t, err)
	return v
}

func TestIPCInfoEqualsProcSysKernel(t *testing.T) {
	ipctest.NoLeaks(t)
	_, id := newKeyedSegment(t, 5000, 0o600)
	lim, maxIndex, err := ipcInfo()
	require.NoError(t, err)
	assert.EqualValues(t, readProcUint(t, "shmmax"), lim.Shmmax)
	assert.EqualValues(t, readProcUint(t, "shmall"), lim.Shmall)
	assert.EqualValues(t, readProcUint(t, "shmmni"), lim.Shmmni)
	assert.EqualValues(t, 1, lim.Shmmin)
	assert.Equal(t, lim.Shmmni, lim.Shmseg, "Linux reports shmseg as shmmni")

	// The return value is the highest index in use, so SHM_STAT finds ours at or below it.
	index := findIndex(id, maxIndex)
	require.GreaterOrEqual(t, index, 0, "SHM_STAT must find segment %d at an index <= %d", id, maxIndex)
	got, ds, err := statIndex(index)
	require.NoError(t, err)
	assert.Equal(t, id, got, "SHM_STAT returns the id")
	assert.EqualValues(t, 5000, ds.Segsz)
	_, _, err = statIndex(maxIndex + 1)
	assert.ErrorIs(t, err, unix.EINVAL, "an empty slot gives EINVAL")
}

func TestSHMInfoEqualsProcSysvipc(t *testing.T) {
	ipctest.NoLeaks(t)
	_, id := newKeyedSegment(t, 5000, 0o600)
	mem := ipctest.Attach(t, id, 0)
	mem[0], mem[4999] = 1, 1 // touch both pages, so they are resident
	page := uint64(os.Getpagesize())

	// Other users of the machine may create segments meanwhile: compare only when
	// the table did not change around the call.
	for try := 0; try < 5; try++ {
		before, err := procsysv.ReadShm()
		require.NoError(t, err)
		use, _, err := shmInfo()
		require.NoError(t, err)
		after, err := procsysv.ReadShm()
		require.NoError(t, err)
		if fmt.Sprint(before) != fmt.Sprint(after) {
			continue
		}
		var pages, rss uint64
		for _, s := range after {
			pages += (s.Size + page - 1) / page
			rss += s.RSS
		}
		assert.EqualValues(t, len(after), use.UsedIDs, "used_ids: segments listed")
		assert.EqualValues(t, pages, use.ShmTot, "shm_tot: sizes rounded up to pages")
		assert.EqualValues(t, rss, uint64(use.ShmRSS)*page, "shm_rss: resident pages")
		assert.GreaterOrEqual(t, uint64(use.ShmRSS), uint64(2), "our two touched pages are resident")
		assert.Zero(t, use.SwapAttempts)
		return
	}
	t.Skip("the segment table kept changing under the test")
}

// The Go structs must have the C layouts: checked against glibc's headers with gcc.
func TestStructLayoutsMatchC(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc not found: cannot compare with <sys/shm.h>")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "sizes.c")
	require.NoError(t, os.WriteFile(src, []byte(`#define _GNU_SOURCE
#include <stdio.h>
#include <stddef.h>
#include <sys/shm.h>
int main(void) {
	printf("%zu %zu %zu %zu %zu\n", sizeof(struct shminfo), offsetof(struct shminfo, shmall),
		sizeof(struct shm_info), offsetof(struct shm_info, shm_tot), offsetof(struct shm_info, shm_swp));
	return 0;
}
`), 0o644))
	exe := filepath.Join(dir, "sizes")
	if out, err := exec.Command(gcc, "-o", exe, src).CombinedOutput(); err != nil {
		t.Skipf("gcc cannot build against <sys/shm.h>: %v\n%s", err, out)
	}
	out, err := exec.Command(exe).Output()
	require.NoError(t, err)
	want := strings.TrimSpace(string(out))
	got := fmt.Sprintf("%d %d %d %d %d", unsafe.Sizeof(shmLimits{}), unsafe.Offsetof(shmLimits{}.Shmall),
		unsafe.Sizeof(shmUsage{}), unsafe.Offsetof(shmUsage{}.ShmTot), unsafe.Offsetof(shmUsage{}.ShmSwp))
	assert.Equal(t, want, got, "sizeof/offsetof: shminfo, shminfo.shmall, shm_info, shm_info.shm_tot, shm_info.shm_swp")
}

func TestShmctlErrors(t *testing.T) {
	ipctest.NoLeaks(t)
	_, id := newKeyedSegment(t, 5000, 0o600)
	gone, err := unix.SysvShmGet(unix.IPC_PRIVATE, 100, unix.IPC_CREAT|0o600)
	require.NoError(t, err)
	_, err = unix.SysvShmCtl(gone, unix.IPC_RMID, nil)
	require.NoError(t, err)

	for _, c := range []struct {
		name string
		id   int
		cmd  int
		buf  uintptr // 0: a real buffer; otherwise this address
		want unix.Errno
	}{
		{"unknown cmd", id, 99, 0, unix.EINVAL},
		{"negative id", -1, unix.IPC_STAT, 0, unix.EINVAL},
		{"removed id", gone, unix.IPC_STAT, 0, unix.EINVAL},
		{"IPC_STAT to a bad address", id, unix.IPC_STAT, 1, unix.EFAULT},
		{"IPC_SET from a bad address", id, unix.IPC_SET, 1, unix.EFAULT},
	} {
		t.Run(c.name, func(t *testing.T) {
			var err error
			if c.buf == 0 {
				var ds unix.SysvShmDesc
				_, err = unix.SysvShmCtl(c.id, c.cmd, &ds)
			} else {
				_, _, errno := unix.Syscall(unix.SYS_SHMCTL, uintptr(c.id), uintptr(c.cmd), c.buf)
				err = errnoOrNil(errno)
			}
			assert.ErrorIs(t, err, c.want)
		})
	}
	t.Run("IPC_SET with uid (uid_t)-1", func(t *testing.T) {
		ds, err := stat(id)
		require.NoError(t, err)
		ds.Perm.Uid = math.MaxUint32 // no user has it
		_, err = unix.SysvShmCtl(id, unix.IPC_SET, &ds)
		assert.ErrorIs(t, err, unix.EINVAL)
	})
	ds, err := stat(id)
	require.NoError(t, err)
	assert.EqualValues(t, 0o600, ds.Perm.Mode, "the failed IPC_SETs changed nothing")
	assert.EqualValues(t, os.Geteuid(), ds.Perm.Uid, "the failed IPC_SETs changed nothing")
}

// The mistake the README warns of: IPC_SET from a zeroed buffer sets the owner
// to uid 0 and gid 0 and the permission bits to 0. Its creator then may no longer
// read it (IPC_STAT, like shmat, needs read permission, and mode 0 gives the owner
// digit nothing) unless it has CAP_IPC_OWNER, as root usually does; being the creator still
// lets it IPC_SET the segment back (and IPC_RMID it, as the cleanup does).
func TestIPCSetFromZeroedBuffer(t *testing.T) {
	ipctest.NoLeaks(t)
	_, id := newKeyedSegment(t, 5000, 0o640)
	_, err := unix.SysvShmCtl(id, unix.IPC_SET, &unix.SysvShmDesc{})
	require.NoError(t, err)

	// /proc/sysvipc/shm lists every segment to everyone, with no permission check.
	s, ok := findShm(t, id)
	require.True(t, ok, "segment %d must be in /proc/sysvipc/shm", id)
	assert.Zero(t, s.Mode, "mode 0")
	assert.Zero(t, s.UID, "owner uid 0")
	assert.Zero(t, s.GID, "owner gid 0")
	assert.EqualValues(t, os.Geteuid(), s.CUID, "the creator stays")

	_, statErr := stat(id)
	b, attachErr := unix.SysvShmAttach(id, 0, unix.SHM_RDONLY)
	if attachErr == nil {
		require.NoError(t, unix.SysvShmDetach(b))
	}
	// Root passes by its capability, not by being uid 0: root in a container that
	// dropped CAP_IPC_OWNER (Docker does) is refused like anyone else.
	for call, err := range map[string]error{"IPC_STAT": statErr, "shmat SHM_RDONLY": attachErr} {
		if caps.Has(unix.CAP_IPC_OWNER) {
			assert.NoError(t, err, "%s: CAP_IPC_OWNER (root has it) reads it anyway", call)
		} else {
			assert.ErrorIs(t, err, unix.EACCES, "%s: mode 0, not even the creator may read it without CAP_IPC_OWNER", call)
		}
	}

	// IPC_STAT may be refused, so the way back is a buffer filled by hand.
	var ds unix.SysvShmDesc
	ds.Perm.Uid, ds.Perm.Gid, ds.Perm.Mode = uint32(os.Geteuid()), uint32(os.Getegid()), 0o600
	_, err = unix.SysvShmCtl(id, unix.IPC_SET, &ds)
	require.NoError(t, err, "the creator may still IPC_SET")
	got, err := stat(id)
	require.NoError(t, err, "and, owner again with mode 0600, read it")
	assert.EqualValues(t, 0o600, got.Perm.Mode)
	assert.EqualValues(t, os.Geteuid(), got.Perm.Uid)
}

// The whole program, as a learner runs it.
func TestProgramTour(t *testing.T) {
	ipctest.NoLeaks(t)
	nextIDBefore, nextIDErr := readNextID()
	r := ipctest.RunProgram(t)
	require.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Empty(t, r.Stderr)
	out := r.Stdout

	for _, want := range []string{
		"mode=0600\taccess_perms=0600", // IPC_STAT before IPC_SET
		"bytes=5000\t",
		"mode 0600 -> 0640",
		"shmctl(-1, IPC_STAT, &buf)\n-> EINVAL",
		"-> EFAULT",
		"key=0x00000000", // after IPC_RMID
		"mode=01640",     // SHM_DEST
		"status dest",    // the ipcs hint
		"-> ENOENT",      // shmget by key
		"a new, different segment with the same key",
		"nattch is 2",           // the second process attached by id
		"nattch 1: still there", // after the second process detached
		"in /proc/sysvipc/shm: false. It is gone.",
		"no segment has that id any more",
		"/proc/sys/kernel/shmmax = ",
		"ulimit -l 0: shmget(IPC_PRIVATE, ", // the lock step's second process
		"SHM_LOCK, NULL): EPERM",
		"SHM_UNLOCK, NULL): 0 (no error)",
		"= seq × 32768 + index", // how ids are made
		"a slot used before: kept",
		"its seq is",
		"-> 0: the new id reaches it",
	} {
		assert.Contains(t, out, want)
	}
	if m := regexp.MustCompile(`SHM_LOCK, NULL\)\n-> 0: `).FindString(out); m != "" && os.Getpagesize() < segSize {
		page := os.Getpagesize()
		assert.Contains(t, out, fmt.Sprintf("SHM_LOCK brings no page in: rss (in /proc/sysvipc/shm) was %d bytes before the call\n   and is %d now", page, page))
		assert.Contains(t, out, fmt.Sprintf("-> rss %d: the page arrived when touched", 2*page))
	}
	if os.Geteuid() == 0 {
		assert.Contains(t, out, "IPC_STAT, &buf): EACCES")
		assert.Contains(t, out, "IPC_SET, &buf): EPERM")
	}
	// The second process's own lines, relayed with its pid: it read what step 2 wrote.
	assert.Regexp(t, `\n   \[pid (\d+)\] attached at 0x[0-9a-f]+, read "hello from pid \d+"\n`, out)
	assert.Regexp(t, `\n   \[pid (\d+)\] detached\n`, out)
	checkNextIDStep(t, out)
	if nextIDErr == nil {
		after, err := readNextID()
		require.NoError(t, err)
		assert.Equal(t, nextIDBefore, after, "the machine's shm_next_id is unchanged")
	}
	m := regexp.MustCompile(`change_time (.+) -> (.+): IPC_SET updates ctime`).FindStringSubmatch(out)
	require.NotNil(t, m, "the IPC_SET step shows ctime before and after")
	assert.NotEqual(t, m[1], m[2], "ctime changed")
}

func TestProgramInspectsWithoutChanging(t *testing.T) {
	ipctest.NoLeaks(t)
	key, id := newKeyedSegment(t, 5000, 0o640)
	r := ipctest.RunProgram(t, "-id", strconv.Itoa(id))
	require.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Contains(t, r.Stdout, fmt.Sprintf("Shared memory Segment shmid=%d", id))
	assert.Contains(t, r.Stdout, fmt.Sprintf("key=%v", key))
	assert.Contains(t, r.Stdout, "mode=0640\taccess_perms=0640")
	assert.Contains(t, r.Stdout, "bytes=5000\t")

	ds, err := stat(id)
	require.NoError(t, err, "-id must leave the segment in place")
	assert.EqualValues(t, 0o640, ds.Perm.Mode)
	assert.Equal(t, ftok.Key(ds.Perm.Key), key)
}

func TestProgramBadInput(t *testing.T) {
	gone, err := unix.SysvShmGet(unix.IPC_PRIVATE, 100, unix.IPC_CREAT|0o600)
	require.NoError(t, err)
	_, err = unix.SysvShmCtl(gone, unix.IPC_RMID, nil)
	require.NoError(t, err)
	goneID := strconv.Itoa(gone)
	long := strings.Repeat("7", 5000)

	for _, c := range []struct {
		args   []string
		status int
		stderr string // a part of the one line
	}{
		{[]string{"-id", goneID}, 1, "EINVAL (invalid argument): no segment has id " + goneID},
		{[]string{"-id", "-1"}, 2, `-id "-1" is not a segment id: ids are never negative`},
		{[]string{"-id", "abc"}, 2, `-id "abc" is not a segment id`},
		{[]string{"-id", ""}, 2, `-id "" is not a segment id`},
		{[]string{"-id", "4294967301"}, 2, `-id "4294967301" is not a segment id`}, // 2^32+5 must not become 5
		{[]string{"-id"}, 2, "flag needs an argument"},
		{[]string{"-nosuch"}, 2, "flag provided but not defined"},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"extra", "-id", "5"}, 2, "flags come first (go run ./05-shmctl -id 5 extra)"},
		{[]string{"-id", long}, 2, `-id "` + long[:60] + "…" + long[:30] + `" (5000 bytes) is not a segment id`},
		{[]string{long}, 2, `unexpected argument "` + long[:60] + "…" + long[:30] + `" (5000 bytes)`},
		{[]string{"-" + long}, 2, "flag provided but not defined: -" + long[:60]},
	} {
		t.Run(shorten(strings.Join(c.args, " "), 50), func(t *testing.T) {
			r := ipctest.RunProgram(t, c.args...)
			ipctest.AssertOneLineError(t, r, c.status, c.stderr)
			assert.Less(t, len(r.Stderr), 250, "long input is quoted short")
		})
	}
}

func TestProgramUsage(t *testing.T) {
	ipctest.AssertUsage(t, ipctest.RunProgram(t, "-h"), "usage: go run ./05-shmctl [-step]", "go run ./05-shmctl [-step] -id ID", "-step", "-id ID")
}

// stepLastDetach is the number of the tour's last step: before it, the segment is
// marked and a second process has it attached.
const stepLastDetach = 14

// Ctrl-C while -step waits removes everything: early (segment created and
// attached) and late (segment marked, a second process attached).
func TestStepInterruptCleansUp(t *testing.T) {
	for _, stopAt := range []int{2, stepLastDetach} {
		t.Run(fmt.Sprintf("at step %d", stopAt), func(t *testing.T) {
			ipctest.NoLeaks(t)
			p := ipctest.StartProgram(t, "-step")
			p.StepTo(t, stopAt)
			out := p.Stdout()
			m := regexp.MustCompile(`-> id (\d+)\n`).FindStringSubmatch(out)
			require.NotNil(t, m, "step 1 prints the id:\n%s", out)
			id, _ := strconv.Atoi(m[1])
			_, ok := findShm(t, id)
			require.True(t, ok, "segment %d exists while the program waits", id)
			peerPid := 0
			if m := regexp.MustCompile(`second process, pid (\d+)`).FindStringSubmatch(out); m != nil {
				peerPid, _ = strconv.Atoi(m[1])
			}

			r := p.Interrupt(t)
			assert.Equal(t, lesson.ExitInterrupted, r.ExitCode, "stderr: %s", r.Stderr)
			assert.NotContains(t, r.Stderr, "cleanup (", "every cleanup succeeds")
			_, ok = findShm(t, id)
			assert.False(t, ok, "segment %d removed on Ctrl-C", id)
			if stopAt == stepLastDetach {
				require.Contains(t, out, fmt.Sprintf("== %d. The last detach destroys the segment ==", stopAt))
				require.NotZero(t, peerPid, "by step %d the second process runs", stopAt)
				assert.ErrorIs(t, syscall.Kill(peerPid, 0), syscall.ESRCH, "the second process is gone")
			}
		})
	}
}

// TestCtrlCWhileAChildRuns: Ctrl-C in a terminal while step 13's second process has
// the marked segment attached: one line, exit status 130, the child gone with the
// lesson, the segment destroyed.
func TestCtrlCWhileAChildRuns(t *testing.T) {
	ipctest.NoLeaks(t)
	r, child := ipctest.CtrlCWhileChildRuns(t, func() *ipctest.Proc { return ipctest.StartProgramInGroup(t) }, "] attached at ")
	assert.Equal(t, lesson.ExitInterrupted, r.ExitCode, "stderr: %s\nstdout:\n%s", r.Stderr, r.Stdout)
	assert.Equal(t, name+": interrupt: cleaning up and exiting\n", r.Stderr, "the whole of stderr")
	assert.True(t, ipctest.Gone(child), "the child (pid %d) ended before the lesson did", child)
}

// As root of a user namespace where only root exists (unshare -r --ipc, or a
// container), no process can be started as nobody: the steps that need another
// user say so and are skipped, rather than failing with the exec's EPERM.
func TestRootOfAUserNamespace(t *testing.T) {
	r := ipctest.RunProgramAsNamespaceRoot(t)
	assert.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Empty(t, r.Stderr)
	assert.Contains(t, r.Stdout, "there is no other user to start, so this step is skipped")
	assert.Contains(t, r.Stdout, "there is no ordinary user to show it with, so it is skipped")
}
