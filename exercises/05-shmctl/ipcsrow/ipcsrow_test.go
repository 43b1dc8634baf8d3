//go:build linux

package ipcsrow

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

func TestMain(m *testing.M) {
	ipctest.Helper("row-as-long-name", helperRowAsLongName)
	ipctest.GivesSegmentsAway() // setOwner
	ipctest.Main(m, nil)
}

// shmLock is shmctl's SHM_LOCK command (<linux/shm.h>), which x/sys does not name.
const shmLock = 11

// setOwner changes segment id's owner with shmctl(IPC_SET), which takes uid, gid
// and the low 9 mode bits from the structure and ignores the rest.
func setOwner(t *testing.T, id int, uid uint32) {
	t.Helper()
	var ds unix.SysvShmDesc
	_, err := unix.SysvShmCtl(id, unix.IPC_STAT, &ds)
	require.NoError(t, err)
	ds.Perm.Uid = uid
	_, err = unix.SysvShmCtl(id, unix.IPC_SET, &ds)
	require.NoError(t, err, "shmctl(%d, IPC_SET) with uid %d", id, uid)
}

// unnamedUID is a uid that no user in the user database has.
func unnamedUID(t *testing.T) uint32 {
	for uid := uint32(4242); uid < 5000; uid++ {
		if _, err := user.LookupId(strconv.Itoa(int(uid))); err != nil {
			return uid
		}
	}
	t.Skip("every uid from 4242 to 4999 has a user name")
	return 0
}

var cases = []struct {
	name  string
	setup func(t *testing.T) int
	note  string // what the case is about, for failure messages
}{
	{
		name:  "private, 0600",
		setup: func(t *testing.T) int { return ipctest.NewSegment(t, 64, 0o600) },
		note:  "IPC_PRIVATE shows as key 0x00000000",
	},
	{
		name: "with a key, 0644, 100 bytes",
		setup: func(t *testing.T) int {
			key, _ := ipctest.UnusedKey(t)
			id, err := unix.SysvShmGet(int(key), 100, unix.IPC_CREAT|unix.IPC_EXCL|0o644)
			require.NoError(t, err)
			t.Cleanup(func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
			return id
		},
		note: "bytes is shm_segsz, the size asked for (100), not rounded up to a page; perms are mode & 0777",
	},
	{
		name: "attached twice",
		setup: func(t *testing.T) int {
			id := ipctest.NewSegment(t, 64, 0o600)
			ipctest.Attach(t, id, 0)
			ipctest.Attach(t, id, unix.SHM_RDONLY)
			return id
		},
		note: "nattch counts attachments (2 here, from one process)",
	},
	{
		name: "marked for removal while attached",
		setup: func(t *testing.T) int {
			key, _ := ipctest.UnusedKey(t)
			id, err := unix.SysvShmGet(int(key), 64, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
			require.NoError(t, err)
			t.Cleanup(func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
			ipctest.Attach(t, id, 0) // detached at the end of the test: then it is destroyed
			_, err = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
			require.NoError(t, err)
			return id
		},
		note: "IPC_RMID with an attachment left sets SHM_DEST (status \"dest\") and the key to 0",
	},
	{
		name: "locked in memory",
		setup: func(t *testing.T) int {
			id := ipctest.NewSegment(t, 64, 0o600)
			if _, err := unix.SysvShmCtl(id, shmLock, nil); err != nil {
				t.Skipf("shmctl(SHM_LOCK): %v (needs CAP_IPC_LOCK or a big enough RLIMIT_MEMLOCK)", err)
			}
			return id
		},
		note: "SHM_LOCK sets SHM_LOCKED (status \"locked\")",
	},
	{
		name: "owned by nobody",
		setup: func(t *testing.T) int {
			id := ipctest.NewSegment(t, 64, 0o640)
			uid, _ := reexec.Nobody()
			setOwner(t, id, uid)
			return id
		},
		note: "the owner column is the user name of shm_perm.uid (not the creator, shm_perm.cuid)",
	},
	{
		name: "owned by a uid without a name",
		setup: func(t *testing.T) int {
			id := ipctest.NewSegment(t, 64, 0o600)
			setOwner(t, id, unnamedUID(t))
			return id
		},
		note: "a uid with no user name prints as the number, as ipcs does",
	},
}

func TestStatMatchesKernel(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			id := tc.setup(t)
			got, err := Stat(id)
			require.NoError(t, err, "Stat(%d)", id)

			k, found, err := procsysv.FindShm(id) // the kernel's own table
			require.NoError(t, err)
			require.True(t, found, "segment %d is not in /proc/sysvipc/shm", id)
			want := Segment{Key: uint32(k.Key), ID: k.ID, UID: k.UID, Mode: k.Mode, Size: k.Size,
				Nattch: uint64(k.Nattch), CPID: k.CPID, LPID: k.LPID}
			assert.Equal(t, want, got, "Stat(%d) must report what the kernel has (/proc/sysvipc/shm); %s", id, tc.note)
		})
	}
}

// ipcsOwner is the owner column as ipcs prints it: the user name cut to 10
// characters (printf's %-10.10s), or the uid when no user has it.
func ipcsOwner(name string) string {
	if len(name) > 10 {
		return name[:10]
	}
	return name
}

// wantRow is the row built from the kernel's table, split into its fields.
func wantRow(t *testing.T, id int) []string {
	t.Helper()
	k, found, err := procsysv.FindShm(id)
	require.NoError(t, err)
	require.True(t, found)
	owner := strconv.Itoa(int(k.UID))
	if u, err := user.LookupId(owner); err == nil {
		owner = u.Username
	}
	row := []string{fmt.Sprintf("0x%08x", uint32(k.Key)), strconv.Itoa(id), ipcsOwner(owner),
		strconv.FormatUint(uint64(k.Mode&0o777), 8), strconv.FormatUint(k.Size, 10), strconv.Itoa(k.Nattch)}
	if k.Mode&SHM_DEST != 0 {
		row = append(row, "dest")
	}
	if k.Mode&SHM_LOCKED != 0 {
		row = append(row, "locked")
	}
	return row
}

// ipcsRow is the row `ipcs -m` prints for id, split into fields, if ipcs exists.
func ipcsRow(t *testing.T, id int) ([]string, bool) {
	t.Helper()
	out, err := exec.Command("ipcs", "-m").Output()
	if err != nil {
		return nil, false
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[1] == strconv.Itoa(id) {
			return f, true
		}
	}
	t.Fatalf("ipcs -m does not list segment %d:\n%s", id, out)
	return nil, false
}

func TestRowLikeIpcs(t *testing.T) {
	columns := "key shmid owner perms bytes nattch [dest] [locked]"
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			id := tc.setup(t)
			row, err := Row(id)
			require.NoError(t, err, "Row(%d)", id)
			got := strings.Fields(row)
			assert.Equal(t, wantRow(t, id), got, "Row(%d) = %q; columns are %s; %s", id, row, columns, tc.note)
			if fromIpcs, ok := ipcsRow(t, id); ok {
				assert.Equal(t, fromIpcs, got, "Row(%d) = %q must have the same fields as `ipcs -m` prints", id, row)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	seg := Segment{Key: 0x41011234, ID: 32769, UID: 1000, Mode: 0o640, Size: 100, Nattch: 2, CPID: 7, LPID: 8}
	tests := []struct {
		name  string
		seg   Segment
		owner string
		want  []string
		why   string
	}{
		{"a short name", seg, "learner", []string{"0x41011234", "32769", "learner", "640", "100", "2"},
			"key as 0x%08x, then shmid, owner, perms in octal, bytes, nattch"},
		{"exactly 10 characters", seg, "abcdefghij", []string{"0x41011234", "32769", "abcdefghij", "640", "100", "2"},
			"a name of 10 characters fits"},
		{"a long name", seg, "alexandra.longname", []string{"0x41011234", "32769", "alexandra.", "640", "100", "2"},
			"ipcs prints the owner with %-10.10s: at most 10 characters, so a longer name is cut"},
		{"a uid without a name", seg, "4243", []string{"0x41011234", "32769", "4243", "640", "100", "2"},
			"Row passes the uid when no user has it; Format prints it like a name"},
		{"the top bit of the key", Segment{Key: 0x81000000, ID: 5, Mode: 0o600, Size: 1}, "root",
			[]string{"0x81000000", "5", "root", "600", "1", "0"}, "Key is a uint32: no minus sign"},
		{"dest and locked", Segment{ID: 6, Mode: 0o600 | SHM_DEST | SHM_LOCKED, Size: 4096, Nattch: 1}, "root",
			[]string{"0x00000000", "6", "root", "600", "4096", "1", "dest", "locked"},
			"the status words follow nattch; perms show mode & 0777 only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Format(tt.seg, tt.owner)
			if strings.HasPrefix(got, "TODO: ") {
				t.Fatal(got)
			}
			assert.Equal(t, tt.want, strings.Fields(got), "Format(%+v, %q) = %q: %s", tt.seg, tt.owner, got, tt.why)
		})
	}
}

// longName is the user name the long-name test gives to a spare uid.
const longName = "shmcourse-a-long-user-name"

// helperRowAsLongName prints Row(id) and the row of `ipcs -m` for id, in a private
// mount namespace where /etc/passwd is args[1] (which gives uid args[2] the name
// longName): both see the long name, and nothing changes outside this process.
// Needs root (CAP_SYS_ADMIN).
func helperRowAsLongName(args []string) int {
	id, _ := strconv.Atoi(args[0])
	// Namespaces belong to threads: keep this goroutine (and the processes it starts,
	// and the user lookups it makes) on the thread that unshares. Never unlocked, so
	// the thread ends with the process.
	runtime.LockOSThread()
	for _, step := range []struct {
		what string
		err  func() error
	}{
		{"unshare(CLONE_NEWNS)", func() error { return unix.Unshare(unix.CLONE_NEWNS) }},
		{"mount --make-rprivate /", func() error { return unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "") }},
		{"mount --bind " + args[1] + " /etc/passwd", func() error { return unix.Mount(args[1], "/etc/passwd", "", unix.MS_BIND, "") }},
	} {
		if err := step.err(); err != nil {
			fmt.Printf("error: %s: %v\n", step.what, err)
			return 1
		}
	}
	if u, err := user.LookupId(args[2]); err != nil || u.Username != longName {
		fmt.Printf("error: uid %s has no name %s in the private /etc/passwd: %v\n", args[2], longName, err)
		return 1
	}
	row, err := Row(id)
	if err != nil {
		fmt.Println("error: Row:", err)
		return 1
	}
	fmt.Printf("row %s\n", row)
	if out, err := exec.Command("ipcs", "-m").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[1] == args[0] {
				fmt.Printf("ipcs %s\n", line)
			}
		}
	}
	return 0
}

func TestRowWithALongUserName(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a uid a long user name needs root (a private mount namespace over /etc/passwd); TestFormat checks the cut without it")
	}
	ipctest.NoLeaks(t)
	uid := unnamedUID(t)
	passwd, err := os.ReadFile("/etc/passwd")
	require.NoError(t, err)
	fake := filepath.Join(t.TempDir(), "passwd")
	require.NoError(t, os.WriteFile(fake, fmt.Appendf(passwd, "%s:x:%d:%d::/nonexistent:/usr/sbin/nologin\n", longName, uid, uid), 0o644))
	id := ipctest.NewSegment(t, 64, 0o600)
	setOwner(t, id, uid)

	r := ipctest.RunHelper(t, "row-as-long-name", strconv.Itoa(id), fake, strconv.Itoa(int(uid)))
	if strings.Contains(r.Stdout, "error: unshare") || strings.Contains(r.Stdout, "error: mount") {
		t.Skipf("no private mount namespace here (a container without CAP_SYS_ADMIN?): %s", strings.TrimSpace(r.Stdout))
	}
	require.Equal(t, 0, r.ExitCode, "helper:\n%s%s", r.Stdout, r.Stderr)
	var row, ipcs []string
	for _, line := range strings.Split(r.Stdout, "\n") {
		if rest, ok := strings.CutPrefix(line, "row "); ok {
			row = strings.Fields(rest)
		}
		if rest, ok := strings.CutPrefix(line, "ipcs "); ok {
			ipcs = strings.Fields(rest)
		}
	}
	require.GreaterOrEqual(t, len(row), 3, "Row(%d) printed %q", id, r.Stdout)
	assert.Equal(t, "shmcourse-", row[2], "the owner of segment %d is %q: ipcs prints it with %%-10.10s, cut to its first 10 characters", id, longName)
	if ipcs != nil {
		assert.Equal(t, ipcs, row, "Row(%d) must have the same fields as `ipcs -m` prints for an owner with a long name", id)
	}
}

func TestErrors(t *testing.T) {
	ipctest.NoLeaks(t)
	removed := ipctest.NewSegment(t, 64, 0o600)
	_, err := unix.SysvShmCtl(removed, unix.IPC_RMID, nil)
	require.NoError(t, err)

	tests := []struct {
		name string
		call func() error
	}{
		{"Stat of a removed segment", func() error { _, err := Stat(removed); return err }},
		{"Row of a removed segment", func() error { _, err := Row(removed); return err }},
		{"Stat of id -1", func() error { _, err := Stat(-1); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err != nil && strings.HasPrefix(err.Error(), "TODO: ") {
				t.Fatal(err)
			}
			require.Error(t, err, "%s must fail: shmctl(IPC_STAT) answers EINVAL", tt.name)
			assert.True(t, errors.Is(err, unix.EINVAL),
				"%s: got %q; wrap the errno with %%w so that errors.Is(err, unix.EINVAL) works (shmctl(2): EINVAL, shmid is not a valid identifier)", tt.name, err)
		})
	}
}
