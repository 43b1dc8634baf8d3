//go:build linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

func TestMain(m *testing.M) {
	// The program itself, run by a helper process, so that it can run as nobody.
	ipctest.Helper("program", lesson.Entry(name, usage, run))
	// What a segment's owner may do with it, run as nobody when the tests run as root.
	ipctest.Helper("owner-tries", func(args []string) int {
		mode, err := strconv.ParseUint(args[0], 8, 32)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		got, err := ownerTries(int(mode))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(got)
		return 0
	})
	ipctest.Main(m, lesson.Entry(name, usage, run))
}

// section returns the output of step n (from its heading to the next).
func section(t *testing.T, out string, n int) string {
	t.Helper()
	start := strings.Index(out, "\n== "+strconv.Itoa(n)+". ")
	require.GreaterOrEqual(t, start, 0, "no step %d in:\n%s", n, out)
	rest := out[start+1:]
	if end := strings.Index(rest, "\n== "); end >= 0 {
		return rest[:end]
	}
	return rest
}

func find(t *testing.T, re *regexp.Regexp, s string) []string {
	t.Helper()
	m := re.FindStringSubmatch(s)
	require.NotNil(t, m, "no match for %s in:\n%s", re, s)
	return m
}

func readKernel(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/" + name)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

var (
	reID      = regexp.MustCompile(`(?m)^-> id (\d+)$`)
	reKey     = regexp.MustCompile(`-> key (0x[0-9a-f]{8})`)
	reSegsz   = regexp.MustCompile(`-> ds.shm_segsz = (\d+):`)
	reSliceAt = regexp.MustCompile(`-> attached at (0x[0-9a-f]+); Go's slice has len (\d+)`)
	reMapping = regexp.MustCompile(`-> the mapping is (\d+) bytes: (\d+) page\(s\) of (\d+)`)
	reMaps    = regexp.MustCompile(`-> /proc/self/maps: ([0-9a-f]+)-([0-9a-f]+) rw-s \S+ \S+ (\d+) /SYSV([0-9a-f]{8})`)
	rePrivID  = regexp.MustCompile(`-> id (\d+), key 0x00000000`)
	reWrote   = regexp.MustCompile(`-> wrote "hello from pid (\d+)" into segment (\d+)`)
	reChild   = regexp.MustCompile(`-> \[pid (\d+)\] shmat\((\d+), NULL, 0\) = 0x[0-9a-f]+, read "hello from pid (\d+)"`)
	reAnswer  = regexp.MustCompile(`-> segment (\d+) now holds "hello back from pid (\d+)"`)
	rePerm    = regexp.MustCompile(`(?m)^-> id (\d+): mode (0[0-7]{3}) \(([rwx-]{9})\), owner uid (\d+)$`)
	reTry     = regexp.MustCompile(`(?m)^-> \[pid \d+, uid (\d+)\] shmat\((\d+), NULL, (0|SHM_RDONLY)\): (.*)$`)
)

// TestDefaultRun runs the lesson as a separate process with its defaults and
// checks what it prints, step by step, against the kernel's own values.
func TestDefaultRun(t *testing.T) {
	ipctest.NoLeaks(t)
	r := ipctest.RunProgram(t)
	require.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Empty(t, r.Stderr)
	out := r.Stdout

	t.Run("limits", func(t *testing.T) {
		s := section(t, out, 1)
		assert.Contains(t, s, fmt.Sprintf("-> page size %d bytes", os.Getpagesize()))
		for _, n := range []string{"shmmax", "shmall", "shmmni"} {
			assert.Contains(t, s, fmt.Sprintf("-> %-6s %s ", strings.ToUpper(n), readKernel(t, n)))
		}
	})

	id := find(t, reID, section(t, out, 3))[1]
	key := find(t, reKey, section(t, out, 2))[1]

	t.Run("create with IPC_CREAT|IPC_EXCL", func(t *testing.T) {
		s := section(t, out, 3)
		assert.Contains(t, s, "   shmget("+key+", 100, IPC_CREAT|IPC_EXCL|0600)\n-> id "+id+"\n")
		assert.Contains(t, s, "$ ipcs -m -i "+id)
		_, exists, err := procsysv.FindShm(mustAtoi(t, id))
		require.NoError(t, err)
		assert.False(t, exists, "segment %s must be removed when the program ends", id)
	})

	t.Run("EEXIST, then IPC_CREAT opens", func(t *testing.T) {
		s := section(t, out, 4)
		assert.Contains(t, s, "shmget("+key+", 100, IPC_CREAT|IPC_EXCL|0600)\n-> EEXIST (file exists)")
		assert.Contains(t, s, "shmget("+key+", 100, IPC_CREAT|0600)\n-> id "+id+": IPC_CREAT without IPC_EXCL opens")
	})

	t.Run("open with size 0; EINVAL above the size", func(t *testing.T) {
		s := section(t, out, 5)
		assert.Contains(t, s, "shmget("+key+", 0, 0)\n-> id "+id+" (the same)")
		assert.Contains(t, s, "shmget("+key+", 101, 0)\n-> EINVAL (invalid argument)")
	})

	t.Run("ENOENT without IPC_CREAT; EINVAL for size 0", func(t *testing.T) {
		s := section(t, out, 6)
		other := find(t, regexp.MustCompile(`shmget\((0x[0-9a-f]{8}), 100, 0600\)\n-> ENOENT \(no such file or directory\)`), s)[1]
		assert.NotEqual(t, key, other)
		assert.Equal(t, key[4:], other[4:], "same file, another proj id: only the top byte differs")
		assert.Contains(t, s, "shmget("+other+", 0, IPC_CREAT|IPC_EXCL|0600)\n-> EINVAL (invalid argument)")
	})

	t.Run("size asked for vs pages allocated", func(t *testing.T) {
		checkSizes(t, section(t, out, 7), id, key, 100)
	})

	t.Run("zero-filled", func(t *testing.T) {
		assert.Contains(t, section(t, out, 8), "-> 0 of its 100 bytes are not zero")
	})

	t.Run("IPC_PRIVATE handed to a second process", func(t *testing.T) {
		s := section(t, out, 9)
		priv := find(t, rePrivID, s)[1]
		assert.NotEqual(t, id, priv)
		assert.Contains(t, s, "shmget(IPC_PRIVATE, 100, IPC_CREAT|0600)")
		w := find(t, reWrote, s)
		parent := w[1]
		assert.Equal(t, priv, w[2])
		c := find(t, reChild, s)
		assert.NotEqual(t, parent, c[1], "the second process is another process")
		assert.Equal(t, priv, c[2], "it attaches the id it was given")
		assert.Equal(t, parent, c[3], "and reads what the first wrote")
		a := find(t, reAnswer, s)
		assert.Equal(t, priv, a[1])
		assert.Equal(t, c[1], a[2], "the first process reads the second's answer")
	})

	t.Run("permissions as nobody", func(t *testing.T) {
		s := section(t, out, 10)
		checkPermissions(t, s, key, id, 0o600, nil)
		assert.NotContains(t, s, "(your -mode)", "the default mode is one of the three shown")
	})

	t.Run("segments outlive processes", func(t *testing.T) {
		s := section(t, out, 11)
		assert.Contains(t, s, "$ ipcs -m\n")
		if os.Geteuid() == 0 {
			assert.Contains(t, s, "the processes of steps 9 and 10 are gone")
		} else {
			assert.Contains(t, s, "the second process of step 9 has exited", "step 10 started no process")
		}
		assert.Contains(t, s, "$ ipcrm -m "+id+"\n")
	})
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	v, err := strconv.Atoi(s)
	require.NoError(t, err)
	return v
}

// checkSizes checks the sizes step: shm_segsz and Go's slice are the size asked
// for, the mapping in /proc/self/maps is whole pages.
func checkSizes(t *testing.T, s, id, key string, size int) {
	t.Helper()
	page := os.Getpagesize()
	pages := (size + page - 1) / page
	assert.Equal(t, strconv.Itoa(size), find(t, reSegsz, s)[1])
	assert.Equal(t, strconv.Itoa(size), find(t, reSliceAt, s)[2])
	m := find(t, reMapping, s)
	assert.Equal(t, strconv.Itoa(pages*page), m[1])
	assert.Equal(t, strconv.Itoa(pages), m[2])
	maps := find(t, reMaps, s)
	start, err := strconv.ParseUint(maps[1], 16, 64)
	require.NoError(t, err)
	end, err := strconv.ParseUint(maps[2], 16, 64)
	require.NoError(t, err)
	assert.Equal(t, uint64(pages*page), end-start, "the maps line itself spans whole pages")
	assert.Equal(t, id, maps[3], "the maps line names the segment by id (inode column)")
	assert.Equal(t, key[2:], maps[4], "and by key (/SYSVkey)")
	assert.Equal(t, "0x"+maps[1], find(t, reSliceAt, s)[1], "the slice starts where the mapping does")
}

// checkPermissions checks the permission step: the modes the kernel reports and,
// as root, what nobody was allowed. extra is the -mode segment, if any.
func checkPermissions(t *testing.T, s, key, id string, mainMode int, extra *int) {
	t.Helper()
	perms := rePerm.FindAllStringSubmatch(s, -1)
	modes := map[string]string{} // id -> mode
	for _, p := range perms {
		modes[p[1]] = p[2]
		assert.Equal(t, strconv.Itoa(os.Geteuid()), p[4], "created by the program, running as this user")
	}
	want := []string{"0600", "0644", "0666"}
	if extra != nil {
		want = append(want, fmt.Sprintf("%04o", *extra))
	}
	require.Len(t, perms, len(want), s)
	for i, p := range perms {
		assert.Equal(t, want[i], p[2])
		m, _ := strconv.ParseUint(p[2], 8, 32)
		assert.Equal(t, rwx(int(m)), p[3])
	}
	assert.Regexp(t, `umask is 0[0-7]{3}, yet the modes are exactly as asked`, s)
	if os.Geteuid() != 0 {
		assert.Contains(t, s, "so this part is skipped")
		assert.NotContains(t, s, "as uid", "no second user without root")
		return
	}
	nobody, _ := reexec.Nobody()
	// shmget by key checks only the permissions asked for in shmflg.
	assert.Regexp(t, fmt.Sprintf(`uid %d\] shmget\(%s, 0, 0\): id %s\n`, nobody, key, id), s)
	if mainMode&6 == 6 {
		assert.Regexp(t, fmt.Sprintf(`uid %d\] shmget\(%s, 0, 0600\): id %s\n`, nobody, key, id), s)
	} else {
		assert.Regexp(t, fmt.Sprintf(`uid %d\] shmget\(%s, 0, 0600\): EACCES \(permission denied\)\n`, nobody, key), s)
	}
	tries := reTry.FindAllStringSubmatch(s, -1)
	require.Len(t, tries, 2*len(want), s)
	for _, tr := range tries {
		assert.Equal(t, strconv.Itoa(int(nobody)), tr[1], "the second process runs as nobody")
		mode, _ := strconv.ParseUint(modes[tr[2]], 8, 32)
		others := mode & 7
		allowed := others&4 != 0 && (tr[3] == "SHM_RDONLY" || others&2 != 0)
		if allowed {
			assert.True(t, strings.HasPrefix(tr[4], "attached; read "), "mode %04o, %s: %s", mode, tr[3], tr[4])
		} else {
			assert.Equal(t, "EACCES (permission denied)", tr[4], "mode %04o, %s", mode, tr[3])
		}
	}
	// The 0666 segment: nobody wrote into it, and the read-only attach saw that.
	assert.Regexp(t, `shmat\(\d+, NULL, 0\): attached; read "segment \d+, mode 0666", wrote "nobody was here"`, s)
	assert.Regexp(t, `shmat\(\d+, NULL, SHM_RDONLY\): attached; read "nobody was here"`, s)
}

// TestSizes: shm_segsz is the size asked for; the allocation is whole pages.
func TestSizes(t *testing.T) {
	page := os.Getpagesize()
	for _, size := range []int{1, page - 1, page, page + 1, 3*page + 5} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			ipctest.NoLeaks(t)
			r := ipctest.RunProgram(t, "-size", strconv.Itoa(size))
			require.Equal(t, 0, r.ExitCode, r.Stderr)
			id := find(t, reID, section(t, r.Stdout, 3))[1]
			key := find(t, reKey, section(t, r.Stdout, 2))[1]
			checkSizes(t, section(t, r.Stdout, 7), id, key, size)
			assert.Contains(t, section(t, r.Stdout, 5), fmt.Sprintf("shmget(%s, %d, 0)\n-> EINVAL", key, size+1))
			assert.Contains(t, section(t, r.Stdout, 8), fmt.Sprintf("-> 0 of its %d bytes are not zero", size))
		})
	}
}

// TestMode: -mode sets the main segment's mode, adds a segment for nobody to try
// (as root) and explains its others digit (as anyone). A mode without owner read
// and write runs only with CAP_IPC_OWNER; without it the program refuses it.
func TestMode(t *testing.T) {
	tests := []struct {
		mode   int
		others string // what the program says a user outside owner and group may do
	}{
		{0o640, "is refused both ways (every attach needs read)"},
		{0o604, "may attach it read-only (SHM_RDONLY) only"},
		{0o602, "is refused both ways (every attach needs read)"},
		{0o606, "may attach it read-write and read-only"},
		{0o744, "may attach it read-only (SHM_RDONLY) only"},
		{0o400, "is refused both ways (every attach needs read)"}, // owner without write
		{0o204, "may attach it read-only (SHM_RDONLY) only"},      // owner without read
	}
	for _, tt := range tests {
		mode := tt.mode
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			ipctest.NoLeaks(t)
			r := ipctest.RunProgram(t, "-mode", fmt.Sprintf("%o", mode))
			ownerRW := mode&0o600 == 0o600
			if !ownerRW && !hasCapIPCOwner() {
				ipctest.AssertOneLineError(t, r, 2, fmt.Sprintf("-mode %04o gives the owner only %s, and the owner is you", mode, rwx(mode)[:3]))
				assert.Empty(t, r.Stdout, "refused before the first step")
				return
			}
			require.Equal(t, 0, r.ExitCode, r.Stderr)
			s3 := section(t, r.Stdout, 3)
			assert.Contains(t, s3, fmt.Sprintf("IPC_CREAT|IPC_EXCL|%04o)\n-> id", mode))
			assert.Contains(t, s3, rwx(mode))
			if ownerRW {
				assert.NotContains(t, s3, "CAP_IPC_OWNER")
			} else {
				assert.Contains(t, s3, fmt.Sprintf("%04o gives the owner only %s, yet this program, the owner, attaches it", mode, rwx(mode)[:3]))
				assert.Contains(t, s3, "it has CAP_IPC_OWNER")
			}
			id := find(t, reID, s3)[1]
			key := find(t, reKey, section(t, r.Stdout, 2))[1]
			checkSizes(t, section(t, r.Stdout, 7), id, key, 100)
			s10 := section(t, r.Stdout, 10)
			checkPermissions(t, s10, key, id, mode, &mode)
			assert.Contains(t, s10, fmt.Sprintf("%04o (your -mode): the others digit is %d, so a user neither owner nor in the group\n   (such as the user nobody) %s.\n", mode, mode&7, tt.others))
		})
	}
}

// TestModeWithoutOwnerBitsAsNobody: without CAP_IPC_OWNER, a -mode that denies the
// owner read or write is refused before anything is created. Run as nobody, so
// that a test run as root sees it too.
func TestModeWithoutOwnerBitsAsNobody(t *testing.T) {
	for _, mode := range []string{"0400", "0200", "0"} {
		t.Run(mode, func(t *testing.T) {
			ipctest.NoLeaks(t)
			uid, gid := reexec.Nobody()
			r := ipctest.StartHelperAs(t, uid, gid, "program", "-mode", mode).Wait(t)
			m, err := strconv.ParseUint(mode, 8, 32)
			require.NoError(t, err)
			ipctest.AssertOneLineError(t, r, 2, fmt.Sprintf("-mode %04o gives the owner only %s, and the owner is you: shmat read-write needs the owner's read and write, shmctl(IPC_STAT) needs read, so this program's own calls would fail with EACCES (only CAP_IPC_OWNER, which root has, skips the check); give the owner 6, e.g. -mode %04o", m, rwx(int(m))[:3], m|0o600))
			assert.Empty(t, r.Stdout)
		})
	}
}

// ownerTries creates a segment with mode and says what the kernel lets its owner,
// this process, do with it: attach read-write, attach read-only, IPC_STAT.
func ownerTries(mode int) (string, error) {
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 16, unix.IPC_CREAT|mode)
	if err != nil {
		return "", err
	}
	defer unix.SysvShmCtl(id, unix.IPC_RMID, nil)
	outcome := func(err error) string {
		if err != nil {
			return lesson.ErrnoText(err)
		}
		return "ok"
	}
	var got []string
	for _, flags := range []int{0, unix.SHM_RDONLY} {
		b, err := unix.SysvShmAttach(id, 0, flags)
		if err == nil {
			err = unix.SysvShmDetach(b)
		}
		got = append(got, outcome(err))
	}
	_, err = stat(id)
	return fmt.Sprintf("rw %s, ro %s, stat %s", got[0], got[1], outcome(err)), nil
}

// TestOwnerIsCheckedToo backs checkOwnerBits: the owner digit binds the segment's
// owner (shmat read-write needs read and write, SHM_RDONLY and IPC_STAT need read)
// unless it has CAP_IPC_OWNER. The unprivileged owner is this user, or nobody when
// the tests run as root; root itself passes everything.
func TestOwnerIsCheckedToo(t *testing.T) {
	const denied = "EACCES (permission denied)"
	tests := []struct {
		mode int
		want string
	}{
		{0o600, "rw ok, ro ok, stat ok"},
		{0o400, "rw " + denied + ", ro ok, stat ok"},
		{0o200, "rw " + denied + ", ro " + denied + ", stat " + denied},
		{0o066, "rw " + denied + ", ro " + denied + ", stat " + denied},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%04o", tt.mode), func(t *testing.T) {
			ipctest.NoLeaks(t)
			var r ipctest.Result
			if os.Geteuid() == 0 {
				uid, gid := reexec.Nobody()
				r = ipctest.StartHelperAs(t, uid, gid, "owner-tries", fmt.Sprintf("%o", tt.mode)).Wait(t)
			} else {
				r = ipctest.RunHelper(t, "owner-tries", fmt.Sprintf("%o", tt.mode))
			}
			require.Equal(t, 0, r.ExitCode, r.Stderr)
			assert.Equal(t, tt.want+"\n", r.Stdout, "an owner without CAP_IPC_OWNER")

			got, err := ownerTries(tt.mode)
			require.NoError(t, err)
			if hasCapIPCOwner() {
				assert.Equal(t, "rw ok, ro ok, stat ok", got, "CAP_IPC_OWNER skips the check")
			} else {
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

// TestHasCapIPCOwner: hasCapIPCOwner agrees with the kernel, which lets an owner
// attach its own 0400 segment read-write only with CAP_IPC_OWNER.
func TestHasCapIPCOwner(t *testing.T) {
	ipctest.NoLeaks(t)
	got, err := ownerTries(0o400)
	require.NoError(t, err)
	assert.Equal(t, strings.HasPrefix(got, "rw ok"), hasCapIPCOwner(), got)
}

// TestUmaskDoesNotApply creates a segment with 0666 under umask 077 here, and runs
// the lesson under that umask: both show mode 0666.
func TestUmaskDoesNotApply(t *testing.T) {
	ipctest.NoLeaks(t)
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)

	id := ipctest.NewSegment(t, 16, 0o666)
	var ds unix.SysvShmDesc
	_, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds)
	require.NoError(t, err)
	assert.Equal(t, uint32(0o666), ds.Perm.Mode&0o777, "umask 077 must not take bits from a segment's mode")

	r := ipctest.RunProgram(t)
	require.Equal(t, 0, r.ExitCode, r.Stderr)
	s := section(t, r.Stdout, 10)
	assert.Contains(t, s, "umask is 0077, yet the modes are exactly as asked (were umask\n   applied, 0666 would have become 0600)")
	assert.Regexp(t, `-> id \d+: mode 0666 \(rw-rw-rw-\)`, s)
}

// TestPrivateNeedsNoIPCCreat: with the key IPC_PRIVATE, shmget creates a new
// segment even without IPC_CREAT, as the README says, and each call a new one.
func TestPrivateNeedsNoIPCCreat(t *testing.T) {
	ipctest.NoLeaks(t)
	var ids []int
	for range 2 {
		id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 16, 0o600)
		require.NoError(t, err, "shmget(IPC_PRIVATE, 16, 0600)")
		t.Cleanup(func() { unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
		ids = append(ids, id)
		seg, exists, err := procsysv.FindShm(id)
		require.NoError(t, err)
		require.True(t, exists, "segment %d", id)
		assert.Equal(t, "0x00000000", seg.Key.String())
		assert.Equal(t, uint64(16), seg.Size)
	}
	assert.NotEqual(t, ids[0], ids[1], "IPC_PRIVATE always creates a new segment")
}

// TestAsNobody runs the whole lesson as an unprivileged user, with a -mode of its
// own: it works, the part that needs root says how to see it, and the -mode's
// others digit is still explained.
func TestAsNobody(t *testing.T) {
	ipctest.NoLeaks(t)
	uid, gid := reexec.Nobody()
	p := ipctest.StartHelperAs(t, uid, gid, "program", "-mode", "0604")
	r := p.Wait(t)
	require.Equal(t, 0, r.ExitCode, r.Stderr)
	assert.NotContains(t, section(t, r.Stdout, 3), "CAP_IPC_OWNER", "the owner has read and write")
	s := section(t, r.Stdout, 10)
	assert.Contains(t, s, fmt.Sprintf("You are uid %d, so this part is skipped", uid))
	assert.Contains(t, s, "sudo /tmp/02-shmget")
	assert.Regexp(t, fmt.Sprintf(`-> id \d+: mode 0600 \(rw-------\), owner uid %d`, uid), s)
	assert.Regexp(t, fmt.Sprintf(`-> id \d+: mode 0604 \(rw----r--\), owner uid %d`, uid), s)
	assert.Contains(t, s, "0604 (your -mode): the others digit is 4, so a user neither owner nor in the group\n   (such as the user nobody) may attach it read-only (SHM_RDONLY) only.\n")
	assert.Contains(t, section(t, r.Stdout, 9), "now holds \"hello back from pid")
	assert.Contains(t, section(t, r.Stdout, 11), "the second process of step 9 has exited, its segment has not")
}

// TestBadInput: one line on stderr naming the problem; exit 2 for usage errors,
// 1 for a failed call; never a panic; nothing left behind.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		exit int
		want string
	}{
		{"size 0 is EINVAL", []string{"-size", "0"}, 1, "IPC_CREAT|IPC_EXCL|0600): EINVAL (invalid argument): size 0 cannot create a segment"},
		{"negative size", []string{"-size", "-1"}, 2, "-size -1: give 1 to 67108864 bytes"},
		{"size too big", []string{"-size", "67108865"}, 2, "-size 67108865: give 1 to"},
		{"size not a number", []string{"-size", "lots"}, 2, `invalid value "lots" for flag -size`},
		{"mode too big", []string{"-mode", "1000"}, 2, "-mode 1000 is more than 0777"},
		{"mode with flag bits", []string{"-mode", "01600"}, 2, "-mode 01600 is more than 0777"},
		{"mode not octal", []string{"-mode", "0680"}, 2, `-mode "0680" is not an octal number`},
		{"mode not a number", []string{"-mode", "rw"}, 2, `-mode "rw" is not an octal number`},
		{"extra argument", []string{"now"}, 2, `unexpected argument "now"`},
		{"unknown flag", []string{"-key", "1"}, 2, "flag provided but not defined: -key"},
		{"child: bad id", []string{roleAttach, "x"}, 2, `segment id "x" is not a number`},
		{"child: bad key", []string{roleTry, "zz"}, 2, `key "zz" is not a hex number`},
		{"child: no such id", []string{roleAttach, "2147483646"}, 1, "shmat(2147483646, NULL, 0): EINVAL (invalid argument)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			ipctest.AssertOneLineError(t, ipctest.RunProgram(t, tt.args...), tt.exit, tt.want)
		})
	}
}

func TestHelp(t *testing.T) {
	ipctest.AssertUsage(t, ipctest.RunProgram(t, "-h"),
		"usage: go run ./02-shmget [-step] [-size BYTES] [-mode OCTAL]", "-size", "-mode", "-step")
}

// TestCtrlC interrupts a -step run after the segment exists: the segment is
// checked in /proc/sysvipc/shm, then removed by the program on SIGINT (exit 130).
func TestCtrlC(t *testing.T) {
	ipctest.NoLeaks(t)
	p := ipctest.StartProgram(t, "-step")
	p.StepTo(t, 4) // paused before step 4
	id := mustAtoi(t, find(t, reID, p.Stdout())[1])

	seg, exists, err := procsysv.FindShm(id)
	require.NoError(t, err)
	require.True(t, exists, "segment %d must exist while the program pauses", id)
	assert.Equal(t, uint64(100), seg.Size)
	assert.Equal(t, uint32(0o600), seg.Mode&0o777)
	assert.Equal(t, p.Pid(), seg.CPID)
	assert.Contains(t, p.Stdout(), "-> key "+seg.Key.String())

	r := p.Interrupt(t)
	assert.Equal(t, lesson.ExitInterrupted, r.ExitCode, "stderr: %s", r.Stderr)
	_, exists, err = procsysv.FindShm(id)
	require.NoError(t, err)
	assert.False(t, exists, "SIGINT must remove segment %d", id)
}

// TestCtrlCAtTheEnd interrupts a -step run before its last step, when five
// segments exist (two of them attached) and, as root, a copy of the program was
// made for nobody: SIGINT removes them all.
func TestCtrlCAtTheEnd(t *testing.T) {
	ipctest.NoLeaks(t)
	copiesBefore, _ := filepath.Glob(copyPattern())
	p := ipctest.StartProgram(t, "-step")
	p.StepTo(t, 11) // paused before the last step

	var ids []int
	for _, m := range regexp.MustCompile(`(?m)^-> id (\d+)`).FindAllStringSubmatch(p.Stdout(), -1) {
		if id := mustAtoi(t, m[1]); !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	require.Len(t, ids, 5, p.Stdout()) // the keyed one, IPC_PRIVATE, 0600, 0644, 0666
	for _, id := range ids {
		seg, exists, err := procsysv.FindShm(id)
		require.NoError(t, err)
		require.True(t, exists, "segment %d must exist during the pause", id)
		assert.Equal(t, p.Pid(), seg.CPID)
	}
	copies, _ := filepath.Glob(copyPattern())
	if os.Geteuid() == 0 {
		require.Greater(t, len(copies), len(copiesBefore), "a copy of the program for nobody must exist")
	}

	r := p.Interrupt(t)
	assert.Equal(t, lesson.ExitInterrupted, r.ExitCode, "stderr: %s", r.Stderr)
	for _, id := range ids {
		_, exists, err := procsysv.FindShm(id)
		require.NoError(t, err)
		assert.False(t, exists, "SIGINT must remove segment %d", id)
	}
	copiesAfter, _ := filepath.Glob(copyPattern())
	assert.ElementsMatch(t, copiesBefore, copiesAfter, "SIGINT must remove the copy made for nobody")
}

// copyPattern matches the copies reexec.CommandAs makes of this test binary.
func copyPattern() string {
	return filepath.Join(os.TempDir(), "shm-course-exe-*", filepath.Base(os.Args[0]))
}

func TestFlagString(t *testing.T) {
	tests := map[int]string{
		unix.IPC_CREAT | unix.IPC_EXCL | 0o600: "IPC_CREAT|IPC_EXCL|0600",
		unix.IPC_CREAT | 0o644:                 "IPC_CREAT|0644",
		0o600:                                  "0600",
		0:                                      "0",
		unix.IPC_CREAT:                         "IPC_CREAT",
	}
	for flg, want := range tests {
		assert.Equal(t, want, flagString(flg))
	}
}

func TestRwx(t *testing.T) {
	tests := map[int]string{0o600: "rw-------", 0o644: "rw-r--r--", 0o777: "rwxrwxrwx", 0: "---------", 0o421: "r---w---x"}
	for mode, want := range tests {
		assert.Equal(t, want, rwx(mode))
	}
}
