//go:build linux

package main

import (
	"fmt"
	"os"
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

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/reexec"
)

func TestMain(m *testing.M) {
	// The program itself, run by a helper process, so that it can run as another user.
	ipctest.Helper("program", lesson.Entry(name, usage, run))
	ipctest.Alongside() // keys only: it creates no System V object
	ipctest.Main(m, lesson.Entry(name, usage, run))
}

// statKey is the key computed here, from stat(2) and the formula, independently of
// the program.
func statKey(t *testing.T, path string, projID int) (key ftok.Key, ino, dev uint64) {
	t.Helper()
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(path, &st), path)
	k := uint32(st.Ino&0xffff) | uint32(st.Dev&0xff)<<16 | uint32(projID&0xff)<<24
	return ftok.Key(k), st.Ino, st.Dev
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

func parseKey(t *testing.T, s string) ftok.Key {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 32)
	require.NoError(t, err, s)
	return ftok.Key(int32(uint32(v)))
}

var (
	reWorkDir   = regexp.MustCompile(`Working directory for this lesson's files: (\S+)`)
	reStat      = regexp.MustCompile(`-> st_dev (0x[0-9a-f]+) .*, st_ino (\d+) `)
	reResultKey = regexp.MustCompile(`(?m)^-> key (0x[0-9a-f]{8})$`)
	reNameKey   = regexp.MustCompile(`(?m)^-> ftok\("([^"]+)", [^)]+\)+ +key (0x[0-9a-f]{8})  \(inode (\d+)\)$`)
	reBefore    = regexp.MustCompile(`-> before: key (0x[0-9a-f]{8}) \(inode (\d+)\)`)
	reAfter     = regexp.MustCompile(`-> after:  key (0x[0-9a-f]{8}) \(inode (\d+)\)`)
	reIDKey     = regexp.MustCompile(`(?m)^-> ftok\("[^"]+", (0x[0-9a-f]+)[^)]*\)+ +key (0x[0-9a-f]{8})$`)
	reCollide   = regexp.MustCompile(`(?m)^-> ftok\("([^"]+)", [^)]+\)+ = (0x[0-9a-f]{8})   st_dev (0x[0-9a-f]+), st_ino (\d+) `)
)

// TestDefaultRun runs the lesson as a separate process with no arguments and
// checks every value it prints against stat(2) and the formula, done here.
func TestDefaultRun(t *testing.T) {
	r := ipctest.RunProgram(t)
	require.Equal(t, 0, r.ExitCode, "stderr: %s", r.Stderr)
	assert.Empty(t, r.Stderr)
	out := r.Stdout

	m := reWorkDir.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	workDir := m[1]
	assert.NoDirExists(t, workDir, "the program must remove its temporary directory")

	t.Run("key and its parts", func(t *testing.T) {
		s := section(t, out, 1)
		st := reStat.FindStringSubmatch(s)
		require.NotNil(t, st, s)
		dev, err := strconv.ParseUint(st[1][2:], 16, 64)
		require.NoError(t, err)
		ino, err := strconv.ParseUint(st[2], 10, 64)
		require.NoError(t, err)
		km := reResultKey.FindStringSubmatch(s)
		require.NotNil(t, km, s)
		key := parseKey(t, km[1])
		assert.Equal(t, ftok.Make(ino, dev, 'A'), key, "the key must be the formula applied to the st_dev and st_ino printed")
		assert.Contains(t, s, "proj_id & 0xff   = 0x41")
		assert.Contains(t, s, "st_dev  & 0xff   = "+hexByte(uint8(dev)))
		assert.Contains(t, s, fmt.Sprintf("st_ino  & 0xffff = 0x%04x", ino&0xffff), "four hex digits, as in the key")
		assert.Contains(t, s, "("+strconv.Itoa(int(int32(key)))+")", "the decimal form /proc/sysvipc/shm uses")
	})

	t.Run("same key through links and other spellings", func(t *testing.T) {
		s := section(t, out, 2)
		names := reNameKey.FindAllStringSubmatch(s, -1)
		require.Len(t, names, 6, s)
		for _, n := range names[1:] {
			assert.Equal(t, names[0][2], n[2], "key of %s", n[1])
			assert.Equal(t, names[0][3], n[3], "inode of %s", n[1])
		}
		spellings := make([]string, len(names))
		for i, n := range names {
			spellings[i] = n[1]
		}
		assert.Contains(t, spellings, workDir+"/hardlink")
		assert.Contains(t, spellings, workDir+"/symlink")
		assert.Contains(t, spellings, workDir+"/../"+filepath.Base(workDir)+"/keyfile")
		assert.Contains(t, s, "link(")
	})

	t.Run("recreated file: message matches what happened", func(t *testing.T) {
		s := section(t, out, 3)
		checkRecreate(t, s)
		call := fmt.Sprintf("   ftok(%q, 0x41 ('A'))\n", workDir+"/keyfile")
		assert.Contains(t, s, call+"-> before: key", "each ftok is narrated before its result")
		assert.Contains(t, s, call+"-> after:  key")
	})

	t.Run("replaced file gets a new key", func(t *testing.T) {
		s := section(t, out, 4)
		b, a := reBefore.FindStringSubmatch(s), reAfter.FindStringSubmatch(s)
		require.NotNil(t, b, s)
		require.NotNil(t, a, s)
		assert.NotEqual(t, b[2], a[2], "rename over a file always brings a new inode")
		assert.NotEqual(t, b[1], a[1])
		assert.Contains(t, s, "new key")
	})

	t.Run("only the low 8 bits of the id count", func(t *testing.T) {
		s := section(t, out, 5)
		ids := reIDKey.FindAllStringSubmatch(s, -1)
		require.Len(t, ids, 5, s)
		got := map[string]string{}
		for _, m := range ids {
			got[m[1]] = m[2]
		}
		assert.Equal(t, got["0x41"], got["0x141"])
		assert.Equal(t, got["0x41"], got["0x241"])
		assert.Equal(t, got["0x41"], got["0x7fff41"])
		assert.NotEqual(t, got["0x41"], got["0x42"])
		assert.Equal(t, "42", got["0x42"][2:4], "the id is the top byte")
		assert.Contains(t, s, "-> refused: proj_id must be nonzero")
	})

	t.Run("a real collision", func(t *testing.T) {
		s := section(t, out, 6)
		if strings.Contains(s, "no collision among") {
			t.Skipf("the program found no collision on this machine:\n%s", s)
		}
		files := reCollide.FindAllStringSubmatch(s, -1)
		require.Len(t, files, 2, s)
		k1, ino1, dev1 := statKey(t, files[0][1], 'A')
		k2, ino2, dev2 := statKey(t, files[1][1], 'A')
		assert.False(t, ino1 == ino2 && dev1 == dev2, "%s and %s must be different files", files[0][1], files[1][1])
		assert.Equal(t, k1, k2, "the two files must really share a key")
		assert.Equal(t, k1.String(), files[0][2])
		assert.Equal(t, k2.String(), files[1][2])
		assert.Equal(t, strconv.FormatUint(ino1, 10), files[0][4])
		assert.Equal(t, strconv.FormatUint(ino2, 10), files[1][4])
	})

	t.Run("ENOENT for a missing file", func(t *testing.T) {
		s := section(t, out, 7)
		assert.Contains(t, s, "-> ENOENT (no such file or directory)")
	})
}

func hexByte(b uint8) string { return "0x" + strconv.FormatUint(uint64(b), 16) }

// checkRecreate checks that step 3 says what really happened: same inode and
// same key, or a new inode and (unless the low 16 bits agree) a new key.
func checkRecreate(t *testing.T, s string) {
	t.Helper()
	b, a := reBefore.FindStringSubmatch(s), reAfter.FindStringSubmatch(s)
	require.NotNil(t, b, s)
	require.NotNil(t, a, s)
	switch {
	case a[2] == b[2]:
		assert.Equal(t, a[1], b[1])
		assert.Contains(t, s, "handed the freed inode number straight back")
	case a[1] != b[1]:
		assert.Contains(t, s, "A new file gets a new inode number, so a new key")
	default:
		assert.Contains(t, s, "same low 16 bits")
	}
}

// TestRecreateOnTmpfs runs the lesson with its files on tmpfs, which never hands
// a freed inode number back at once: there, recreating the file changes the key.
func TestRecreateOnTmpfs(t *testing.T) {
	var fs unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		t.Skip("/dev/shm is not a tmpfs here")
	}
	dir, err := os.MkdirTemp("/dev/shm", "01-ftok-test-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	t.Setenv("TMPDIR", dir)

	r := ipctest.RunProgram(t)
	require.Equal(t, 0, r.ExitCode, r.Stderr)
	s := section(t, r.Stdout, 3)
	b, a := reBefore.FindStringSubmatch(s), reAfter.FindStringSubmatch(s)
	require.NotNil(t, b, s)
	require.NotNil(t, a, s)
	assert.NotEqual(t, b[2], a[2], "tmpfs gives a new inode number")
	assert.NotEqual(t, b[1], a[1], "so a new key")
	assert.Contains(t, s, "A new file gets a new inode number, so a new key")
	checkRecreate(t, s)
}

// TestPathAndProjID gives the program a file or directory and an id in each
// accepted spelling, and checks the key against stat(2) and the formula.
func TestPathAndProjID(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "mine")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	tests := []struct {
		path, id string
		projID   int
	}{
		{file, "", 'A'},
		{file, "A", 'A'},
		{file, "65", 0x41},
		{file, "0x41", 0x41},
		{file, "0x141", 0x41},
		{file, "0xff", 0xff},
		{file, "077", 0o77}, // octal, as C's strtol(s, NULL, 0) reads it: 63
		{file, "0101", 'A'}, // octal 101 is 65
		{file, "1", 1},
		{file, "z", 'z'},
		{dir, "0x7f", 0x7f},
		{"/", "B", 'B'},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.id, func(t *testing.T) {
			args := []string{tt.path}
			if tt.id != "" {
				args = append(args, tt.id)
			}
			r := ipctest.RunProgram(t, args...)
			require.Equal(t, 0, r.ExitCode, r.Stderr)
			want, ino, _ := statKey(t, tt.path, tt.projID)
			s := section(t, r.Stdout, 1)
			km := reResultKey.FindStringSubmatch(s)
			require.NotNil(t, km, s)
			assert.Equal(t, want.String(), km[1])
			assert.Contains(t, s, "st_ino "+strconv.FormatUint(ino, 10)+" ")
			switch tt.id {
			case "0x141":
				assert.Contains(t, s, "Only the low 8 bits of the id count: 0x141 acts as 0x41 ('A')")
			case "077":
				assert.Contains(t, s, "PROJ_ID 077 has a leading 0, so it is octal, as C's strtol(s, NULL, 0) reads it: 63 = 0x3f ('?').")
			case "A":
				assert.Contains(t, s, "PROJ_ID A is one character, as C would write 'A': 0x41 ('A').")
			case "65", "0x41":
				assert.NotContains(t, s, "PROJ_ID", "a decimal or hex id needs no explaining")
			}
			if tt.path != file || tt.id != "" {
				assert.Contains(t, r.Stdout, "use a file of\n   their own", "the demos must not touch the learner's file")
			}
		})
	}
	assert.FileExists(t, file, "the learner's file must be left alone")
}

// TestBadInput: one line on stderr naming the problem, exit 2 for usage errors
// and 1 for a failed call, never a panic.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	tests := []struct {
		name string
		args []string
		exit int
		want string
	}{
		{"missing file", []string{filepath.Join(dir, "nope")}, 1, "ENOENT (no such file or directory): the file does not exist"},
		{"not a directory", []string{file + "/x"}, 1, "ENOTDIR"},
		{"id 0", []string{file, "0"}, 2, "ftok(3) requires them to be nonzero"},
		{"id 0x100", []string{file, "0x100"}, 2, `PROJ_ID "0x100": ftok uses only the low 8 bits`},
		{"id not a number", []string{file, "abc"}, 2, `PROJ_ID "abc" is not a number`},
		{"negative id", []string{file, "-5"}, 2, `PROJ_ID "-5" is not a number`},
		{"id too big", []string{file, "0x100000000"}, 2, "is not a number"},
		{"not ASCII", []string{file, "é"}, 2, "is not a number"},
		{"too many arguments", []string{file, "A", "extra"}, 2, "too many arguments (3)"},
		{"a flag after the arguments", []string{file, "A", "-step"}, 2, "-step comes after the arguments, where it is not read as a flag: flags come first (go run ./01-ftok -step " + file + " A)"},
		{"proj id with a sign after 0x", []string{file, "0x+41"}, 2, `PROJ_ID "0x+41" is not a number`},
		{"proj id with a sign", []string{file, "+65"}, 2, `PROJ_ID "+65" is not a number`},
		{"octal with an 8", []string{file, "08"}, 2, `PROJ_ID "08" is not a number`},
		{"a path of 5000 characters, shortened", []string{"/" + strings.Repeat("x", 5000)}, 1, `ftok("/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" (5001 bytes), 0x41 ('A')): ENAMETOOLONG (file name too long)`},
		{"a long PROJ_ID, shortened", []string{file, strings.Repeat("9", 200)}, 2, `PROJ_ID "` + strings.Repeat("9", 60) + "…" + strings.Repeat("9", 30) + `" (200 bytes) is not a number`},
		{"empty path", []string{""}, 2, "PATH is empty"},
		{"unknown flag", []string{"-size", "3"}, 2, "flag provided but not defined: -size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ipctest.AssertOneLineError(t, ipctest.RunProgram(t, tt.args...), tt.exit, tt.want)
		})
	}
}

func TestHelp(t *testing.T) {
	ipctest.AssertUsage(t, ipctest.RunProgram(t, "-h"), "usage: go run ./01-ftok [-step] [PATH [PROJ_ID]]", "-step")
}

// TestEACCES runs the program as nobody on a file inside a directory only root may
// enter: stat(2), and so ftok, fails with EACCES.
func TestEACCES(t *testing.T) {
	dir := t.TempDir() // mode 0700, owned by the test's user
	file := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	uid, gid := reexec.Nobody()
	p := ipctest.StartHelperAs(t, uid, gid, "program", file)
	r := p.Wait(t)
	assert.Equal(t, 1, r.ExitCode)
	assert.Contains(t, r.Stderr, "EACCES (permission denied): a directory on the way to the file may not be searched")
	assert.Equal(t, 1, strings.Count(r.Stderr, "\n"), r.Stderr)
}

// TestCtrlC interrupts a -step run at a pause: the program exits 130 and removes
// the files it created.
func TestCtrlC(t *testing.T) {
	p := ipctest.StartProgram(t, "-step")
	line := p.Expect(t, "Working directory", 5*time.Second)
	m := reWorkDir.FindStringSubmatch(line)
	require.NotNil(t, m, line)
	dir := m[1]
	p.StepTo(t, 2) // now waiting for Enter before step 2
	require.DirExists(t, dir)
	require.FileExists(t, filepath.Join(dir, "keyfile"))
	r := p.Interrupt(t)
	assert.Equal(t, lesson.ExitInterrupted, r.ExitCode, "stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
	assert.Contains(t, r.Stderr, "interrupt: cleaning up and exiting")
	assert.NoDirExists(t, dir)
}

func TestDevString(t *testing.T) {
	tests := map[uint64]string{
		unix.Mkdev(254, 0):       "0xfe00 (major 254, minor 0)",
		unix.Mkdev(8, 17):        "0x811 (major 8, minor 17)",
		unix.Mkdev(259, 1048575): "0xfff103ff (major 259, minor 1048575)", // minor numbers above 255 spread over two fields
		0:                        "0x0 (major 0, minor 0)",
	}
	for dev, want := range tests {
		assert.Equal(t, want, devString(dev))
	}
}

func TestParseProjID(t *testing.T) {
	// As C's strtol(s, NULL, 0) reads them: 0x is hex, a leading 0 octal.
	good := map[string]int{"65": 65, "0x41": 0x41, "0X41": 0x41, "A": 'A', "~": '~', "1": 1, "9": 9, "0x141": 0x141, "2147483647": 0x7fffffff,
		"077": 0o77, "0101": 0o101, "01": 1, "0x7fffffff": 0x7fffffff, "017777777777": 0x7fffffff}
	for in, want := range good {
		got, err := parseProjID(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got.value, in)
		}
	}
	bad := []string{"0", "0x0", "256", "0x100", "-1", "abc", "0x", "", " ", "é", "2147483648", "1.5",
		"0x+41", "0x-41", "+65", "-0x41", " 65", "65 ", "08", "0o101", "0b1", "1_0", "0x4_1", "00", "0x80000000", "020000000000"}
	for _, in := range bad {
		_, err := parseProjID(in)
		assert.Error(t, err, in)
		var usage *lesson.UsageError
		assert.ErrorAs(t, err, &usage, "%q must be a usage error (exit 2)", in)
	}
}

// TestFindCollision checks the search on files made here: none among a few
// files, and the limit is respected.
func TestFindCollision(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 5; i++ {
		require.NoError(t, os.WriteFile(filepath.Join(dir, strconv.Itoa(i)), nil, 0o644))
	}
	require.NoError(t, os.Link(filepath.Join(dir, "0"), filepath.Join(dir, "link")))
	_, _, seen, found := findCollision([]string{dir}, 'A', 100)
	assert.False(t, found, "a hard link is the same file, not a collision")
	assert.Equal(t, 6, seen)
	_, _, seen, _ = findCollision([]string{dir}, 'A', 3)
	assert.Equal(t, 3, seen)
}
