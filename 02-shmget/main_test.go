//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/caps"
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
	// Keys of its own files and private segments, no system-wide count: in the
	// shared namespace it may run beside other packages (see ipctest.Alongside).
	ipctest.Alongside()
	ipctest.Main(m, lesson.Entry(name, usage, run))
}

// The lesson's steps, in the order tour runs them.
const (
	stepLimits = iota + 1
	stepKey
	stepCreate
	stepAgain
	stepOpen
	stepMissing
	stepSizes
	stepZero
	stepUntouched
	stepTouch
	stepOvercommit
	stepNoReserve
	stepHuge
	stepPrivate
	stepPerms
	stepExec
	stepOutlive
)

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
	reWrote   = regexp.MustCompile(`-> attached at 0x[0-9a-f]+; wrote "hello from pid (\d+)" into segment (\d+)`)
	reChild   = regexp.MustCompile(`   \[pid (\d+)\] shmat\((\d+), NULL, 0\)\n   \[pid (\d+)\] -> attached at 0x[0-9a-f]+; read "hello from pid (\d+)"\n`)
	reAnswer  = regexp.MustCompile(`-> segment (\d+) now holds "hello back from pid (\d+)"`)
	rePerm    = regexp.MustCompile(`(?m)^-> id (\d+): mode (0[0-7]{3}) \(([rwx-]{9})\), owner uid (\d+)$`)
	reTry     = regexp.MustCompile(`(?m)^   \[pid \d+\] -> uid (\d+): shmat\((\d+), NULL, (0|SHM_RDONLY)\): (.*)$`)
	reBigID   = regexp.MustCompile(`(?m)^-> id (\d+): 64 MiB$`)
	reExecNew = regexp.MustCompile(`-> uid (\d+): shmget\((0x[0-9a-f]{8}), 4096, IPC_CREAT\|IPC_EXCL\|(0[0-7]{3})\): id (\d+)\n`)
)

// TestDefaultRun runs the lesson as a separate process with its defaults and
// checks what it prints, step by step, against the kernel's own values.
func TestDefaultRun(t *testing.T) {
	ipctest.NoLeaks(t)
	r := ipctest.RunProgram(t)
	require.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Empty(t, r.Stderr)
	out := r.Stdout
	assert.NotContains(t, out, "@@ ", "protocol lines between the processes are not shown")

	t.Run("limits", func(t *testing.T) {
		s := section(t, out, stepLimits)
		assert.Contains(t, s, fmt.Sprintf("-> page size %d bytes", os.Getpagesize()))
		for _, n := range []string{"shmmax", "shmall", "shmmni"} {
			assert.Contains(t, s, fmt.Sprintf("-> %-6s %s ", strings.ToUpper(n), readKernel(t, n)))
		}
		assert.Contains(t, s, "$ /sbin/sysctl kernel.shmmax kernel.shmall kernel.shmmni")
	})

	id := find(t, reID, section(t, out, stepCreate))[1]
	key := find(t, reKey, section(t, out, stepKey))[1]

	t.Run("create with IPC_CREAT|IPC_EXCL", func(t *testing.T) {
		s := section(t, out, stepCreate)
		assert.Contains(t, s, "   shmget("+key+", 100, IPC_CREAT|IPC_EXCL|0600)\n-> id "+id+"\n")
		assert.Contains(t, s, "$ ipcs -m -i "+id)
		_, exists, err := procsysv.FindShm(mustAtoi(t, id))
		require.NoError(t, err)
		assert.False(t, exists, "segment %s must be removed when the program ends", id)
	})

	t.Run("EEXIST, then IPC_CREAT opens", func(t *testing.T) {
		s := section(t, out, stepAgain)
		assert.Contains(t, s, "shmget("+key+", 100, IPC_CREAT|IPC_EXCL|0600)\n-> EEXIST (file exists)")
		assert.Contains(t, s, "shmget("+key+", 100, IPC_CREAT|0600)\n-> id "+id+": IPC_CREAT without IPC_EXCL opens")
	})

	t.Run("open with size 0; EINVAL above the size", func(t *testing.T) {
		s := section(t, out, stepOpen)
		assert.Contains(t, s, "shmget("+key+", 0, 0)\n-> id "+id+" (the same)")
		assert.Contains(t, s, "shmget("+key+", 101, 0)\n-> EINVAL (invalid argument)")
		assert.NotContains(t, s, "allocated", "the kernel counts pages; it allocates none at shmget")
	})

	t.Run("ENOENT without IPC_CREAT; EINVAL for size 0", func(t *testing.T) {
		s := section(t, out, stepMissing)
		other := find(t, regexp.MustCompile(`shmget\((0x[0-9a-f]{8}), 100, 0600\)\n-> ENOENT \(no such file or directory\)`), s)[1]
		assert.NotEqual(t, key, other)
		assert.Equal(t, key[4:], other[4:], "same file, another proj id: only the top byte differs")
		assert.Contains(t, s, "shmget("+other+", 0, IPC_CREAT|IPC_EXCL|0600)\n-> EINVAL (invalid argument)")
	})

	t.Run("size asked for vs pages counted", func(t *testing.T) {
		s := section(t, out, stepSizes)
		checkSizes(t, s, id, key, 100)
		assert.Contains(t, s, "   shmctl("+id+", IPC_STAT, &ds)\n-> ds.shm_segsz", "narrated before it is made")
		assert.Contains(t, s, "   shmat("+id+", NULL, 0)\n-> attached at")
		assert.Contains(t, s, "Counted is not allocated")
	})

	t.Run("zero-filled, and what a zero means", func(t *testing.T) {
		s := section(t, out, stepZero)
		assert.Contains(t, s, "-> 0 of its 100 bytes are not zero")
		assert.Contains(t, s, "only with ordering")
		assert.Contains(t, s, "03-shmat's writeMessage")
	})

	t.Run("no memory after shmget and shmat", func(t *testing.T) {
		checkUntouched(t, section(t, out, stepUntouched))
	})

	t.Run("memory arrives when touched", func(t *testing.T) {
		checkTouch(t, section(t, out, stepTouch))
	})

	t.Run("ENOMEM and SHM_NORESERVE", func(t *testing.T) {
		checkOvercommit(t, section(t, out, stepOvercommit), section(t, out, stepNoReserve))
	})

	t.Run("SHM_HUGETLB", func(t *testing.T) {
		checkHuge(t, section(t, out, stepHuge))
	})

	t.Run("IPC_PRIVATE handed to a second process", func(t *testing.T) {
		s := section(t, out, stepPrivate)
		priv := find(t, rePrivID, s)[1]
		assert.NotEqual(t, id, priv)
		assert.Contains(t, s, "shmget(IPC_PRIVATE, 100, IPC_CREAT|0600)")
		w := find(t, reWrote, s)
		parent := w[1]
		assert.Equal(t, priv, w[2])
		c := find(t, reChild, s)
		assert.NotEqual(t, parent, c[1], "the second process is another process")
		assert.Equal(t, c[1], c[3], "every line of the child is marked with its pid")
		assert.Equal(t, priv, c[2], "it attaches the id it was given")
		assert.Equal(t, parent, c[4], "and reads what the first wrote")
		a := find(t, reAnswer, s)
		assert.Equal(t, priv, a[1])
		assert.Equal(t, c[1], a[2], "the first process reads the second's answer")
	})

	t.Run("permissions as nobody", func(t *testing.T) {
		s := section(t, out, stepPerms)
		checkPermissions(t, s, key, id, 0o600, nil)
		assert.NotContains(t, s, "(your -mode)", "the default mode is one of the three shown")
		assert.Contains(t, s, "execute 1", "the digits include execute")
		assert.NotContains(t, s, "unused", "execute is not unused")
	})

	t.Run("the execute bit is checked", func(t *testing.T) {
		checkExecute(t, section(t, out, stepExec))
	})

	t.Run("segments outlive processes", func(t *testing.T) {
		s := section(t, out, stepOutlive)
		assert.Contains(t, s, "$ ipcs -m\n")
		if os.Geteuid() == 0 {
			assert.Contains(t, s, "the second process and the one that ran as nobody are gone")
		} else {
			assert.Contains(t, s, "the second process of the IPC_PRIVATE step has exited", "no process ran as nobody")
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
	assert.Contains(t, s, fmt.Sprintf("count as %d page(s) against SHMALL", pages))
}

// checkUntouched: a 64 MiB segment has nothing in memory after shmget and after
// shmat, in /proc/sysvipc/shm and in this process's smaps.
func checkUntouched(t *testing.T, s string) {
	t.Helper()
	big := find(t, reBigID, s)[1]
	assert.Contains(t, s, "   shmget(IPC_PRIVATE, 67108864, IPC_CREAT|0600)\n-> id "+big+": 64 MiB\n-> /proc/sysvipc/shm: rss 0 bytes\n")
	assert.Regexp(t, `   shmat\(`+big+`, NULL, 0\)\n-> attached at 0x[0-9a-f]+\n-> /proc/sysvipc/shm: rss 0 bytes; /proc/self/smaps: Rss 0 kB of 65536 kB\n`, s)
	assert.Contains(t, s, fmt.Sprintf("$ awk '$2 == %s {print $15}' /proc/sysvipc/shm", big))
	assert.Regexp(t, `\$ grep -A4 '\^[0-9a-f]+-' /proc/\d+/smaps`, s)
}

// shmemHugePages reports whether the kernel may back shared memory with
// transparent huge pages, which would make a touch bring 2 MiB instead of 4 KiB.
func shmemHugePages(t *testing.T) bool {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/shmem_enabled")
	return err == nil && !strings.Contains(string(b), "[never]") && !strings.Contains(string(b), "[deny]")
}

// checkTouch: writing 1 MiB brings 1 MiB into memory, reading the next 1 MiB
// brings another, and shmdt leaves it with the segment.
func checkTouch(t *testing.T, s string) {
	t.Helper()
	if shmemHugePages(t) {
		t.Skip("transparent huge pages are on for shared memory here: a touch brings a huge page")
	}
	assert.Contains(t, s, "   write one byte into each of the first 256 pages (1 MiB)\n-> /proc/sysvipc/shm: rss 1048576 bytes; /proc/self/smaps: Rss 1024 kB of 65536 kB\n")
	assert.Contains(t, s, "   read one byte from each of the next 256 pages\n-> read 256 pages, all zero: true\n-> /proc/sysvipc/shm: rss 2097152 bytes; /proc/self/smaps: Rss 2048 kB of 65536 kB\n")
	assert.Regexp(t, `   shmdt\(0x[0-9a-f]+\)\n-> /proc/sysvipc/shm: rss 2097152 bytes\n`, s, "the memory stays with the segment")
}

// checkOvercommit: a size above what this machine's overcommit mode allows gives
// ENOMEM (mode 0 and 2), and with SHM_NORESERVE it is created (mode 0 and 1), its
// ipcs command printed, and removed by the next step (next), so that -step pauses
// while it exists; a plain segment created (mode 1) is removed at once.
func checkOvercommit(t *testing.T, s, next string) {
	t.Helper()
	var m memory
	var err error
	m.mode, err = readNumber("/proc/sys/vm/overcommit_memory")
	require.NoError(t, err)
	m.ram, err = meminfo("MemTotal")
	require.NoError(t, err)
	m.swap, err = meminfo("SwapTotal")
	require.NoError(t, err)
	m.commitLimit, err = meminfo("CommitLimit")
	require.NoError(t, err)
	size, _ := m.tooBig()
	plain := fmt.Sprintf("   shmget(IPC_PRIVATE, %d, IPC_CREAT|0600)\n-> ", size)
	noReserve := fmt.Sprintf("   shmget(IPC_PRIVATE, %d, IPC_CREAT|SHM_NORESERVE|0600)\n-> ", size)
	assert.Contains(t, s, fmt.Sprintf("-> /proc/sys/vm/overcommit_memory = %d;", m.mode))
	switch m.mode {
	case overcommitGuess:
		assert.Contains(t, s, plain+"ENOMEM (cannot allocate memory)\n")
		assert.Contains(t, s, noReserve+"id ")
		assert.Contains(t, s, "refuses one request larger than all RAM plus swap")
	case overcommitAlways:
		assert.Contains(t, s, plain+"id ")
		assert.Contains(t, s, noReserve+"id ")
	case overcommitNever:
		assert.Contains(t, s, plain+"ENOMEM (cannot allocate memory)\n")
		assert.Contains(t, s, noReserve+"ENOMEM (cannot allocate memory)\n")
		assert.Contains(t, s, "ignores SHM_NORESERVE")
	}
	for _, m := range regexp.MustCompile(`(?m)^-> id (\d+)`).FindAllStringSubmatch(s, -1) {
		id := mustAtoi(t, m[1])
		removed := fmt.Sprintf("   shmctl(%d, IPC_RMID, NULL)\n-> removed\n", id)
		if look := fmt.Sprintf("   $ ipcs -m -i %d    # bytes %d (-step pauses here; the next step removes it)\n", id, size); strings.Contains(s, look) {
			assert.NotContains(t, s, removed, "the SHM_NORESERVE segment is kept for the pause")
			assert.Contains(t, next, " ==\n"+removed, "the next step starts by removing it")
		} else {
			assert.Contains(t, s, removed, "removed at once")
		}
	}
	assert.Contains(t, next, "OOM killer")
}

// checkHuge: SHM_HUGETLB is refused with EPERM without CAP_IPC_LOCK or the
// hugetlb_shm_group, with ENOMEM where no huge page is free (and then created with
// SHM_NORESERVE, and the first touch faults), and otherwise maps huge pages.
func checkHuge(t *testing.T, s string) {
	t.Helper()
	huge, err := meminfo("Hugepagesize")
	if err != nil {
		assert.Contains(t, s, "this kernel has no huge pages")
		return
	}
	group, err := readNumber("/proc/sys/vm/hugetlb_shm_group")
	require.NoError(t, err)
	free, err := meminfo("HugePages_Free")
	require.NoError(t, err)
	call := fmt.Sprintf("   shmget(IPC_PRIVATE, %d, IPC_CREAT|SHM_HUGETLB|0600)\n-> ", huge)
	switch {
	case !caps.Has(unix.CAP_IPC_LOCK) && !inGroup(int(group)):
		assert.Contains(t, s, "CAP_IPC_LOCK no")
		assert.Contains(t, s, call+"EPERM (operation not permitted)\n")
	case free == 0:
		assert.Contains(t, s, call+"ENOMEM (cannot allocate memory)\n")
		assert.Contains(t, s, fmt.Sprintf("   shmget(IPC_PRIVATE, %d, IPC_CREAT|SHM_HUGETLB|SHM_NORESERVE|0600)\n-> id ", huge))
		assert.Regexp(t, `-> attached at (0x[0-9a-f]+)\n   b\[0\] = 1 .*\n-> fault at (0x[0-9a-f]+), the segment's first byte: the kernel sent SIGBUS\n`, s)
		m := regexp.MustCompile(`-> attached at (0x[0-9a-f]+)\n.*\n-> fault at (0x[0-9a-f]+)`).FindStringSubmatch(s)
		if assert.NotNil(t, m) {
			assert.Equal(t, m[1], m[2], "the fault is at the segment's first byte")
		}
	default:
		assert.Contains(t, s, call+"id ")
		assert.Contains(t, s, fmt.Sprintf("KernelPageSize %d kB, Rss %d kB", huge/1024, huge/1024))
	}
}

// checkExecute: the process without CAP_IPC_OWNER (nobody, started by a root run,
// or this user's run itself) is refused execute on its own 0600 segment three ways
// and allowed on its own 0700 segment; the segments are gone afterwards.
func checkExecute(t *testing.T, s string) {
	t.Helper()
	assert.Contains(t, s, "The man page\n   lags the kernel here")
	uid := os.Getuid()
	if uid == 0 {
		nobody, _ := reexec.Nobody()
		uid = int(nobody)
		assert.Regexp(t, `(?m)^   \[pid \d+\] -> uid \d+: shmget`, s, "as root, the process running as nobody tries it")
	} else if hasCapIPCOwner() {
		t.Skip("this user has CAP_IPC_OWNER: every try succeeds")
	}
	created := reExecNew.FindAllStringSubmatch(s, -1)
	require.Len(t, created, 2, s)
	for _, c := range created {
		assert.Equal(t, strconv.Itoa(uid), c[1])
		key, mode, id := c[2], c[3], c[4]
		who := "uid " + c[1] + ": "
		want := "EACCES (permission denied)"
		if mode == "0700" {
			want = "id " + id
		}
		assert.Contains(t, s, who+"shmget("+key+", 0, 0100): "+want+"\n", "mode %s", mode)
		assert.Contains(t, s, who+"shmget("+key+", 0, 0001): "+want+"\n", "mode %s", mode)
		if mode == "0700" {
			assert.Regexp(t, who+`shmat\(`+id+`, NULL, SHM_EXEC\): attached at 0x[0-9a-f]+, executable\n`, s)
		} else {
			assert.Contains(t, s, who+"shmat("+id+", NULL, SHM_EXEC): EACCES (permission denied)\n")
		}
		_, exists, err := procsysv.FindShm(mustAtoi(t, id))
		require.NoError(t, err)
		assert.False(t, exists, "segment %s must be removed", id)
	}
	assert.Equal(t, []string{"0600", "0700"}, []string{created[0][3], created[1][3]})
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
	assert.Regexp(t, fmt.Sprintf(`\] -> uid %d: shmget\(%s, 0, 0\): id %s\n`, nobody, key, id), s)
	if mainMode&6 == 6 {
		assert.Regexp(t, fmt.Sprintf(`\] -> uid %d: shmget\(%s, 0, 0600\): id %s\n`, nobody, key, id), s)
	} else {
		assert.Regexp(t, fmt.Sprintf(`\] -> uid %d: shmget\(%s, 0, 0600\): EACCES \(permission denied\)\n`, nobody, key), s)
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

// TestSizes: shm_segsz is the size asked for; the kernel counts whole pages.
func TestSizes(t *testing.T) {
	page := os.Getpagesize()
	for _, size := range []int{1, page - 1, page, page + 1, 3*page + 5} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			ipctest.NoLeaks(t)
			r := ipctest.RunProgram(t, "-size", strconv.Itoa(size))
			require.Equal(t, 0, r.ExitCode, r.Stderr)
			id := find(t, reID, section(t, r.Stdout, stepCreate))[1]
			key := find(t, reKey, section(t, r.Stdout, stepKey))[1]
			checkSizes(t, section(t, r.Stdout, stepSizes), id, key, size)
			assert.Contains(t, section(t, r.Stdout, stepOpen), fmt.Sprintf("shmget(%s, %d, 0)\n-> EINVAL", key, size+1))
			assert.Contains(t, section(t, r.Stdout, stepZero), fmt.Sprintf("-> 0 of its %d bytes are not zero", size))
		})
	}
}

// ownerLockout is the one line a run without CAP_IPC_OWNER ends with when -mode
// denies the owner what the lesson's own calls need.
func ownerLockout(mode int) string {
	switch {
	case foldedRequest(mode)&^(mode>>6) != 0: // opening with IPC_CREAT|mode asks for more than the owner has
		return fmt.Sprintf("100, IPC_CREAT|%04o): EACCES (permission denied): the segment's mode %04o gives its owner, this process, only %s, and the owner digit binds the owner too: opening asks for every permission bit in shmflg, its three digits folded into one (here %s)", mode, mode, rwx(mode)[:3], rwx(foldedRequest(mode))[6:])
	case mode&0o400 == 0:
		return fmt.Sprintf(", IPC_STAT, &ds): EACCES (permission denied): the segment's mode %04o gives its owner, this process, only %s, and the owner digit binds the owner too: IPC_STAT needs read", mode, rwx(mode)[:3])
	default:
		return fmt.Sprintf(", NULL, 0): EACCES (permission denied): the segment's mode %04o gives its owner, this process, only %s, and the owner digit binds the owner too: a read-write shmat needs read and write", mode, rwx(mode)[:3])
	}
}

// TestMode: -mode sets the main segment's mode, adds a segment for nobody to try
// (as root) and explains its others digit (as anyone). A mode that denies the
// owner read or write runs through only with CAP_IPC_OWNER; without it the
// lesson's own call fails with EACCES, explained, and nothing is left.
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
				ipctest.AssertOneLineError(t, r, 1, ownerLockout(mode))
				assert.Contains(t, section(t, r.Stdout, stepCreate), "watch this program's own calls on its segment fail with EACCES below")
				return
			}
			require.Equal(t, 0, r.ExitCode, r.Stderr)
			s3 := section(t, r.Stdout, stepCreate)
			assert.Contains(t, s3, fmt.Sprintf("IPC_CREAT|IPC_EXCL|%04o)\n-> id", mode))
			assert.Contains(t, s3, rwx(mode))
			if ownerRW {
				assert.NotContains(t, s3, "CAP_IPC_OWNER")
			} else {
				assert.Contains(t, s3, fmt.Sprintf("%04o gives the owner only %s, yet this program, the owner, attaches it", mode, rwx(mode)[:3]))
				assert.Contains(t, s3, "it has CAP_IPC_OWNER")
			}
			id := find(t, reID, s3)[1]
			key := find(t, reKey, section(t, r.Stdout, stepKey))[1]
			checkSizes(t, section(t, r.Stdout, stepSizes), id, key, 100)
			s := section(t, r.Stdout, stepPerms)
			checkPermissions(t, s, key, id, mode, &mode)
			assert.Contains(t, s, fmt.Sprintf("%04o (your -mode): the others digit is %d, so a user neither owner nor in the group\n   (such as the user nobody) %s.\n", mode, mode&7, tt.others))
		})
	}
}

// TestOwnerLockedOutAsNobody: without CAP_IPC_OWNER, a -mode that denies the owner
// what the lesson's own calls need makes that call fail with EACCES, explained in
// one line, and everything created is removed. Run as nobody, so that a test run
// as root sees it too.
func TestOwnerLockedOutAsNobody(t *testing.T) {
	for _, mode := range []int{0o400, 0o200, 0o204, 0} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			ipctest.NoLeaks(t)
			uid, gid := reexec.Nobody()
			r := ipctest.StartHelperAs(t, uid, gid, "program", "-mode", fmt.Sprintf("%o", mode)).Wait(t)
			ipctest.AssertOneLineError(t, r, 1, ownerLockout(mode))
			assert.Contains(t, r.Stderr, fmt.Sprintf("(only CAP_IPC_OWNER, which root has, skips the check); give the owner 6, e.g. -mode %04o\n", mode|0o600))
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
	var ds unix.SysvShmDesc
	_, err = unix.SysvShmCtl(id, unix.IPC_STAT, &ds)
	return fmt.Sprintf("rw %s, ro %s, stat %s", got[0], got[1], outcome(err)), nil
}

// TestOwnerIsCheckedToo backs ownerDenied: the owner digit binds the segment's
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
	s := section(t, r.Stdout, stepPerms)
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
// own: it works, the part that needs root says how to see it, the -mode's others
// digit is still explained, and the execute bit is tried on its own segments.
func TestAsNobody(t *testing.T) {
	ipctest.NoLeaks(t)
	uid, gid := reexec.Nobody()
	p := ipctest.StartHelperAs(t, uid, gid, "program", "-mode", "0604")
	r := p.Wait(t)
	require.Equal(t, 0, r.ExitCode, r.Stderr)
	assert.Empty(t, r.Stderr)
	assert.NotContains(t, section(t, r.Stdout, stepCreate), "CAP_IPC_OWNER", "the owner has read and write")
	s := section(t, r.Stdout, stepPerms)
	assert.Contains(t, s, fmt.Sprintf("You are uid %d, so this part is skipped", uid))
	assert.Contains(t, s, "sudo /tmp/02-shmget")
	assert.Regexp(t, fmt.Sprintf(`-> id \d+: mode 0600 \(rw-------\), owner uid %d`, uid), s)
	assert.Regexp(t, fmt.Sprintf(`-> id \d+: mode 0604 \(rw----r--\), owner uid %d`, uid), s)
	assert.Contains(t, s, "0604 (your -mode): the others digit is 4, so a user neither owner nor in the group\n   (such as the user nobody) may attach it read-only (SHM_RDONLY) only.\n")
	assert.Contains(t, section(t, r.Stdout, stepPrivate), "now holds \"hello back from pid")
	e := section(t, r.Stdout, stepExec)
	assert.Contains(t, e, "You have no CAP_IPC_OWNER that counts here")
	assert.Regexp(t, fmt.Sprintf(`(?m)^-> uid %d: shmget\(0x[0-9a-f]{8}, 0, 0100\): EACCES \(permission denied\)$`, uid), e, "this process itself is refused")
	assert.Contains(t, section(t, r.Stdout, stepHuge), "EPERM (operation not permitted)", "nobody has no CAP_IPC_LOCK")
	assert.Contains(t, section(t, r.Stdout, stepOutlive), "the second process of the IPC_PRIVATE step has exited, its segment has not")
}

// TestBadInput: one line on stderr naming the problem; exit 2 for usage errors,
// 1 for a failed call; never a panic; nothing left behind.
func TestBadInput(t *testing.T) {
	long := strings.Repeat("7", 300)
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
		{"mode long, shortened", []string{"-mode", long + "8"}, 2, `-mode "` + strings.Repeat("7", 60) + "…" + strings.Repeat("7", 29) + `8" (301 bytes) is not an octal number`},
		{"extra argument", []string{"now"}, 2, `unexpected argument "now"`},
		{"extra argument, long", []string{long}, 2, `unexpected argument "` + strings.Repeat("7", 60) + "…" + strings.Repeat("7", 30) + `" (300 bytes)`},
		{"unknown flag", []string{"-key", "1"}, 2, "flag provided but not defined: -key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.NoLeaks(t)
			ipctest.AssertOneLineError(t, ipctest.RunProgram(t, tt.args...), tt.exit, tt.want)
		})
	}
}

// TestRolesTypedByHand: a role typed by a person is a one-line usage error and
// touches nothing, not even a segment it names. (The old program ran the role:
// child-attach ID attached segment ID and wrote into it.)
func TestRolesTypedByHand(t *testing.T) {
	ipctest.NoLeaks(t)
	id := ipctest.NewSegment(t, 64, 0o666)
	b := ipctest.Attach(t, id, 0)
	key, _ := ipctest.UnusedKey(t)
	for _, args := range [][]string{
		{roleAttach, strconv.Itoa(id)},
		{roleTry, key.String(), strconv.Itoa(id)},
		{roleAttach, "4294967296"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := ipctest.RunProgram(t, args...)
			ipctest.AssertOneLineError(t, r, 2, fmt.Sprintf("%q is a part this lesson plays as its own second process; it does not run when typed", args[0]))
			assert.Empty(t, r.Stdout)
			assert.Equal(t, byte(0), b[0], "the segment is untouched")
		})
	}
}

// TestRolesCheckWhatTheyAreGiven starts the roles the way the lesson does (the
// marker names this test process as their parent): they refuse ids that do not fit
// a C int (4294967296 would become segment 0), and segments their parent did not
// create, and do their work on segments it did.
func TestRolesCheckWhatTheyAreGiven(t *testing.T) {
	ipctest.NoLeaks(t)
	t.Setenv(reexec.EnvParent, strconv.Itoa(os.Getpid())) // the program's parent is this test

	// A segment created by another process: no role may touch it.
	foreign := ipctest.ForeignSegment(t, 64, 0o600)
	seg, _, err := procsysv.FindShm(foreign)
	require.NoError(t, err)
	foreignBytes := ipctest.Attach(t, foreign, unix.SHM_RDONLY)

	// A keyed segment and a private one created by this process, the roles' parent.
	key, _ := ipctest.UnusedKey(t)
	keyed, err := unix.SysvShmGet(int(key), 64, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	require.NoError(t, err)
	t.Cleanup(func() { unix.SysvShmCtl(keyed, unix.IPC_RMID, nil) })
	own := ipctest.NewSegment(t, 64, 0o600)
	ownBytes := ipctest.Attach(t, own, 0)
	copy(ownBytes, "hello from the test\x00")

	notOurs := fmt.Sprintf("segment %d was created by pid %d, not by the lesson that started this process (pid %d): a role touches only what its lesson created", foreign, seg.CPID, os.Getpid())
	notInt := func(s string) string {
		return fmt.Sprintf("%q is not a segment id: ids are numbers like those in the shmid column of ipcs -m", s)
	}
	tests := []struct {
		name string
		args []string
		exit int
		want string
	}{
		{"id beyond a C int", []string{roleAttach, "4294967296"}, 2, notInt("4294967296")},
		{"id 2^31", []string{roleAttach, "2147483648"}, 2, notInt("2147483648")},
		{"negative id", []string{roleAttach, "-1"}, 2, notInt("-1")},
		{"id not a number", []string{roleAttach, "x"}, 2, notInt("x")},
		{"no id", []string{roleAttach}, 2, "usage: child-attach ID"},
		{"key not hex", []string{roleTry, "zz"}, 2, `key "zz" is not 0x and 8 hex digits`},
		{"try: id beyond a C int", []string{roleTry, key.String(), "4294967296"}, 2, notInt("4294967296")},
		{"attach: a foreign segment", []string{roleAttach, strconv.Itoa(foreign)}, 1, notOurs},
		{"try: a foreign segment", []string{roleTry, key.String(), strconv.Itoa(foreign)}, 1, notOurs},
		{"try: a key with no segment", []string{roleTry, "0x00000001"}, 1, "shmget(0x00000001, 0, 0): ENOENT (no such file or directory): no segment has this key"},
		{"attach: no such segment", []string{roleAttach, "2147483646"}, 1, "shmat(2147483646, ...): EINVAL (invalid argument): no segment has this id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ipctest.RunProgram(t, tt.args...)
			ipctest.AssertOneLineError(t, r, tt.exit, tt.want)
			assert.Equal(t, byte(0), foreignBytes[0], "the foreign segment is untouched")
		})
	}

	t.Run("attach: the parent's own segment", func(t *testing.T) {
		p := ipctest.StartProgram(t, roleAttach, strconv.Itoa(own))
		r := p.Wait(t)
		require.Equal(t, 0, r.ExitCode, r.Stderr)
		assert.Empty(t, r.Stderr)
		assert.Contains(t, r.Stdout, fmt.Sprintf("   shmat(%d, NULL, 0)\n-> attached at 0x", own))
		assert.Contains(t, r.Stdout, `read "hello from the test"`)
		assert.True(t, strings.HasSuffix(r.Stdout, "\n@@ WROTE\n"), "it tells its parent, last: %q", r.Stdout)
		assert.Equal(t, fmt.Sprintf("hello back from pid %d", p.Pid()), message(ownBytes))
	})
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
	p.StepTo(t, stepAgain) // paused after the segment was created
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

// TestNoReserveSegmentAtThePause: the overcommit step prints an ipcs command for
// its SHM_NORESERVE segment, and -step pauses while that segment exists; Ctrl-C
// there removes it.
func TestNoReserveSegmentAtThePause(t *testing.T) {
	ipctest.NoLeaks(t)
	p := ipctest.StartProgram(t, "-step")
	p.StepTo(t, stepNoReserve) // paused after the overcommit step
	s := section(t, p.Stdout(), stepOvercommit)
	m := regexp.MustCompile(`shmget\(IPC_PRIVATE, (\d+), IPC_CREAT\|SHM_NORESERVE\|0600\)\n-> id (\d+)`).FindStringSubmatch(s)
	if m == nil {
		p.Interrupt(t)
		t.Skipf("no SHM_NORESERVE segment on this machine:\n%s", s)
	}
	size, id := m[1], mustAtoi(t, m[2])
	assert.Contains(t, s, "\n   $ ipcs -m -i "+m[2]+"    # bytes "+size+" ", "the step prints an ipcs command for it")
	seg, exists, err := procsysv.FindShm(id)
	require.NoError(t, err)
	require.True(t, exists, "segment %d, whose ipcs command the step printed, exists at the pause", id)
	assert.Equal(t, size, strconv.FormatUint(seg.Size, 10))
	if ipcs, err := exec.LookPath("ipcs"); err == nil {
		out, err := exec.Command(ipcs, "-m", "-i", m[2]).CombinedOutput()
		assert.NoError(t, err, "%s", out)
		assert.Contains(t, string(out), "bytes="+size, "the command printed works at the pause")
	}

	r := p.Interrupt(t)
	assert.Equal(t, lesson.ExitInterrupted, r.ExitCode, "stderr: %s", r.Stderr)
	_, exists, err = procsysv.FindShm(id)
	require.NoError(t, err)
	assert.False(t, exists, "SIGINT must remove segment %d", id)
}

// TestCtrlCAtTheEnd interrupts a -step run before its last step, when six
// segments exist (three attached, one of them 64 MiB with 2 MiB in memory) and, as
// root, a copy of the program was made for nobody: SIGINT removes them all.
func TestCtrlCAtTheEnd(t *testing.T) {
	ipctest.NoLeaks(t)
	copiesBefore, _ := filepath.Glob(copyPattern())
	p := ipctest.StartProgram(t, "-step")
	p.StepTo(t, stepOutlive) // paused before the last step
	out := p.Stdout()

	ids := []int{
		mustAtoi(t, find(t, reID, section(t, out, stepCreate))[1]),
		mustAtoi(t, find(t, reBigID, section(t, out, stepUntouched))[1]),
		mustAtoi(t, find(t, rePrivID, section(t, out, stepPrivate))[1]),
	}
	for _, m := range rePerm.FindAllStringSubmatch(section(t, out, stepPerms), -1) {
		ids = append(ids, mustAtoi(t, m[1]))
	}
	require.Len(t, ids, 6, out) // the keyed one, 64 MiB, IPC_PRIVATE, 0600, 0644, 0666
	for _, id := range ids {
		seg, exists, err := procsysv.FindShm(id)
		require.NoError(t, err)
		require.True(t, exists, "segment %d must exist during the pause", id)
		assert.Equal(t, p.Pid(), seg.CPID)
	}
	// The segments of the memory steps that were removed at once are gone already.
	for _, s := range []int{stepOvercommit, stepNoReserve, stepHuge} {
		for _, m := range regexp.MustCompile(`(?m)^-> id (\d+)`).FindAllStringSubmatch(section(t, out, s), -1) {
			_, exists, err := procsysv.FindShm(mustAtoi(t, m[1]))
			require.NoError(t, err)
			assert.False(t, exists, "segment %s of step %d is removed at once", m[1], s)
		}
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

// TestCtrlCWhileTheChildWaits: Ctrl-C in a terminal sends SIGINT to the
// foreground process group, while the process run as nobody waits between two
// steps. The child is in a process group of its own (lesson.StartChild), so the
// lesson alone gets it: it says so in one line, ends the child and cleans up.
func TestCtrlCWhileTheChildWaits(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the process that waits between two steps runs as nobody, which needs root")
	}
	ipctest.NoLeaks(t)
	p := ipctest.StartProgramInGroup(t, "-step")
	p.StepTo(t, stepExec) // the process running as nobody waits for its next turn
	child := mustAtoi(t, find(t, regexp.MustCompile(`\[pid (\d+)\] -> uid`), p.Stdout())[1])
	require.False(t, ipctest.Gone(child), "the child waits")
	p.SignalGroup(t, syscall.SIGINT)
	<-p.Done() // its input stays open, as a terminal's does: the pause does not go on
	r := p.Wait(t)
	assert.Equal(t, lesson.ExitInterrupted, r.ExitCode)
	assert.Equal(t, "02-shmget: interrupt: cleaning up and exiting\n", r.Stderr, "one line, the lesson's")
	assert.True(t, ipctest.Gone(child), "the child (pid %d) ended before the lesson did", child)
}

// TestCtrlCWhileAChildRuns: Ctrl-C in a terminal while the IPC_PRIVATE step's
// second process runs: exit 130, one line, the child ended with the lesson.
func TestCtrlCWhileAChildRuns(t *testing.T) {
	ipctest.NoLeaks(t)
	r, child := ipctest.CtrlCWhileChildRuns(t, func() *ipctest.Proc { return ipctest.StartProgramInGroup(t) }, "] shmat(")
	assert.Equal(t, lesson.ExitInterrupted, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Equal(t, "02-shmget: interrupt: cleaning up and exiting\n", r.Stderr, "the whole of stderr")
	assert.True(t, ipctest.Gone(child), "the child (pid %d) ended before the lesson did", child)
}

// copyPattern matches the copies reexec.CommandAs makes of this test binary.
func copyPattern() string {
	return filepath.Join(os.TempDir(), "shm-course-exe-*", filepath.Base(os.Args[0]))
}

// TestMemoryStepsUnderLowLimits runs the lesson in a private IPC namespace whose
// SHMMAX or SHMALL is too low for the memory steps' segments: each step shows the
// refusal (EINVAL, ENOSPC) and explains that limit instead, and the lesson ends
// well. Creating the namespace needs root (CAP_SYS_ADMIN); elsewhere it is skipped.
func TestMemoryStepsUnderLowLimits(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a private IPC namespace needs root: run the tests as root (go test -exec sudo) to see this")
	}
	tests := []struct {
		sysctl, value string
		want          []string
	}{
		{"shmmax", "1048576", []string{
			"-> EINVAL (invalid argument)\n   SHMMAX here is 1048576 bytes, less than 64 MiB: shmget refuses a size above\n   SHMMAX with EINVAL before it counts any memory",
			"No segment to touch",
		}},
		{"shmall", "1000", []string{
			"-> ENOSPC (no space left on device)\n   SHMALL here is 1000 pages for all segments together (or all SHMMNI ids are\n   taken): 64 MiB would pass it",
			"No segment to touch",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.sysctl, func(t *testing.T) {
			cmd := exec.Command("/bin/sh", "-c", `echo "$1" > /proc/sys/kernel/"$2" && exec "$0"`, os.Args[0], tt.value, tt.sysctl)
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWIPC}
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Skipf("cannot start a process in a new IPC namespace here: %v", err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				require.NoError(t, err, "stderr: %s", stderr.String())
			case <-time.After(ipctest.Timeout):
				_ = cmd.Process.Kill()
				t.Fatalf("the lesson did not finish within %v:\n%s", ipctest.Timeout, stdout.String())
			}
			out := stdout.String()
			assert.Empty(t, stderr.String())
			assert.Contains(t, section(t, out, stepLimits), fmt.Sprintf("-> %-6s %s ", strings.ToUpper(tt.sysctl), tt.value), "the namespace's own limit")
			assert.Contains(t, section(t, out, stepUntouched), tt.want[0])
			assert.Contains(t, section(t, out, stepTouch), tt.want[1])
			o := section(t, out, stepOvercommit)
			if tt.sysctl == "shmmax" {
				assert.Contains(t, o, "-> EINVAL (invalid argument)\n   SHMMAX here is 1048576 bytes, less than ")
				assert.NotContains(t, o, "SHM_NORESERVE|0600", "no point trying: the limit comes first")
			} else {
				assert.Contains(t, o, "-> ENOSPC (no space left on device)\n   SHMALL here is 1000 pages")
			}
		})
	}
}

func TestFlagString(t *testing.T) {
	tests := map[int]string{
		unix.IPC_CREAT | unix.IPC_EXCL | 0o600: "IPC_CREAT|IPC_EXCL|0600",
		unix.IPC_CREAT | 0o644:                 "IPC_CREAT|0644",
		0o600:                                  "0600",
		0o100:                                  "0100",
		0o001:                                  "0001",
		0:                                      "0",
		unix.IPC_CREAT:                         "IPC_CREAT",
		unix.IPC_CREAT | shmHugeTLB | shmNoReserve | 0o600: "IPC_CREAT|SHM_HUGETLB|SHM_NORESERVE|0600",
	}
	for flg, want := range tests {
		assert.Equal(t, want, flagString(flg))
	}
}

// TestShmFlagValues: the flags x/sys does not name have <linux/shm.h>'s values,
// as a C compiler sees them (skipped without gcc).
func TestShmFlagValues(t *testing.T) {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is not installed: cannot compare with <sys/shm.h>")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "flags.c")
	require.NoError(t, os.WriteFile(src, []byte(`#define _GNU_SOURCE
#include <stdio.h>
#include <sys/shm.h>
int main(void) { printf("%d %d %d\n", SHM_HUGETLB, SHM_NORESERVE, SHM_EXEC); return 0; }
`), 0o644))
	bin := filepath.Join(dir, "flags")
	out, err := exec.Command(gcc, "-o", bin, src).CombinedOutput()
	require.NoError(t, err, string(out))
	out, err = exec.Command(bin).Output()
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("%d %d %d\n", shmHugeTLB, shmNoReserve, shmExec), string(out))
}

func TestRwx(t *testing.T) {
	tests := map[int]string{0o600: "rw-------", 0o644: "rw-r--r--", 0o777: "rwxrwxrwx", 0: "---------", 0o421: "r---w---x"}
	for mode, want := range tests {
		assert.Equal(t, want, rwx(mode))
	}
}

func TestFoldedRequest(t *testing.T) {
	tests := map[int]int{0o600: 6, 0o204: 6, 0o400: 4, 0o001: 1, 0o100: 1, 0o070: 7, 0: 0}
	for perm, want := range tests {
		assert.Equal(t, want, foldedRequest(perm), "%04o", perm)
	}
}

// TestTooBig: the overcommit step's size is above the limit of each mode, in
// whole GiB: RAM + swap for modes 0 and 1, CommitLimit for mode 2.
func TestTooBig(t *testing.T) {
	const ram = 25276063744 // 23.5 GiB, this machine's MemTotal
	tests := []struct {
		name      string
		m         memory
		wantSize  uint64
		wantLimit uint64
	}{
		{"heuristic, no swap", memory{mode: overcommitGuess, ram: ram, commitLimit: ram / 2}, 25 * gib, ram},
		{"heuristic, with swap", memory{mode: overcommitGuess, ram: 8 * gib, swap: 2 * gib}, 12 * gib, 10 * gib},
		{"always", memory{mode: overcommitAlways, ram: ram}, 25 * gib, ram},
		{"never", memory{mode: overcommitNever, ram: ram, commitLimit: 12638031872}, 13 * gib, 12638031872},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size, limit := tt.m.tooBig()
			assert.Equal(t, tt.wantSize, size)
			assert.Equal(t, tt.wantLimit, limit)
			assert.Greater(t, size, limit)
		})
	}
}

func TestBytesString(t *testing.T) {
	tests := map[uint64]string{64 << 20: "64 MiB", 25 * gib: "25 GiB", 25276063744: "23.5 GiB", 2 << 20: "2 MiB", 4096: "4 KiB", 100: "100 bytes", 0: "0 bytes"}
	for n, want := range tests {
		assert.Equal(t, want, bytesString(n))
	}
}

// As root of a user namespace where only root exists (unshare -r --ipc, or a
// container), no process can be started as nobody: the lesson says so and skips
// that part, rather than failing with the exec's EPERM.
func TestRootOfAUserNamespace(t *testing.T) {
	r := ipctest.RunProgramAsNamespaceRoot(t)
	assert.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Empty(t, r.Stderr)
	assert.Contains(t, r.Stdout, "where the user nobody\n   (uid 65534) does not exist, so this part is skipped")
	// SHM_HUGETLB's CAP_IPC_LOCK counts only in the initial user namespace.
	if !strings.Contains(r.Stdout, "no Hugepagesize in /proc/meminfo") {
		assert.Contains(t, r.Stdout, "CAP_IPC_LOCK only in its own user namespace, where it does not count for this")
		assert.NotContains(t, r.Stdout, "CAP_IPC_LOCK yes")
	}
}
