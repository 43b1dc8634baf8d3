//go:build linux

package ftok_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/ipctest"
)

func TestMain(m *testing.M) {
	ipctest.Alongside() // keys only: it creates no System V object
	ipctest.Main(m, nil)
}

// cFtok is a C program that prints glibc's ftok(path, id) for each pair of
// arguments, as "0x%08x", or the errno name's number if ftok fails.
const cFtok = `#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <sys/ipc.h>

int main(int argc, char **argv) {
	for (int i = 1; i + 1 < argc; i += 2) {
		key_t k = ftok(argv[i], (int)strtol(argv[i+1], NULL, 0));
		if (k == -1)
			printf("errno %d\n", errno);
		else
			printf("0x%08x\n", (unsigned)k);
	}
	return 0;
}
`

// glibcFtok builds cFtok with gcc and returns a function that runs it.
func glibcFtok(t *testing.T) func(pairs [][2]string) []string {
	t.Helper()
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("gcc is not installed, so Ftok cannot be compared with glibc's ftok here (apt-get install gcc to run this test)")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "ftok.c")
	bin := filepath.Join(dir, "ftok")
	require.NoError(t, os.WriteFile(src, []byte(cFtok), 0o644))
	out, err := exec.Command(gcc, "-o", bin, src).CombinedOutput()
	require.NoError(t, err, "gcc failed:\n%s", out)
	return func(pairs [][2]string) []string {
		var args []string
		for _, p := range pairs {
			args = append(args, p[0], p[1])
		}
		out, err := exec.Command(bin, args...).Output()
		require.NoError(t, err)
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
}

// TestMatchesGlibc compares Ftok with glibc's ftok on files, directories, a hard
// link, a symbolic link, files on other file systems, and ids whose low byte
// matters (0x141), has its top bit set (0xff, 0x80) or is a character ('A').
func TestMatchesGlibc(t *testing.T) {
	cftok := glibcFtok(t)

	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	link := filepath.Join(dir, "hardlink")
	require.NoError(t, os.Link(file, link))
	symlink := filepath.Join(dir, "symlink")
	require.NoError(t, os.Symlink(file, symlink))
	subdir := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(subdir, 0o755))

	paths := []string{
		file, link, symlink, subdir, dir,
		filepath.Join(subdir, "..", "file"), // another spelling of file
		"/", "/etc/passwd", "/dev/null", "/proc", "/dev/shm",
		"/usr/bin", os.Args[0], // the test binary itself
	}
	ids := []int{1, 'A', 0x41, 0x141, 0x7f, 0x80, 0xff, 0x1ff, 0x12345678}

	var pairs [][2]string
	var want []ftok.Key
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			continue // not on this system: nothing to compare
		}
		for _, id := range ids {
			key, err := ftok.Ftok(p, id)
			require.NoError(t, err, "Ftok(%s, %#x)", p, id)
			pairs = append(pairs, [2]string{p, fmt.Sprintf("%#x", id)})
			want = append(want, key)
		}
	}
	got := cftok(pairs)
	require.Len(t, got, len(pairs))
	for i, p := range pairs {
		assert.Equal(t, got[i], want[i].String(), "ftok(%q, %s): glibc says %s, Ftok says %v", p[0], p[1], got[i], want[i])
	}
}

// TestMissingFileMatchesGlibc: glibc's ftok fails with ENOENT for a missing file,
// and so does Ftok, with an error that errors.Is recognises.
func TestMissingFileMatchesGlibc(t *testing.T) {
	cftok := glibcFtok(t)
	missing := filepath.Join(t.TempDir(), "missing")
	got := cftok([][2]string{{missing, "65"}})
	assert.Equal(t, []string{fmt.Sprintf("errno %d", int(syscall.ENOENT))}, got)

	_, err := ftok.Ftok(missing, 'A')
	assert.ErrorIs(t, err, syscall.ENOENT)
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

// TestKeyIsTheFormula checks Ftok against the formula with the file's own
// st_ino and st_dev, for a file and a directory.
func TestKeyIsTheFormula(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for _, p := range []string{file, dir} {
		var st syscall.Stat_t
		require.NoError(t, syscall.Stat(p, &st))
		key, err := ftok.Ftok(p, 0x5a)
		require.NoError(t, err)
		want := uint32(st.Ino&0xffff) | uint32(st.Dev&0xff)<<16 | 0x5a<<24
		assert.Equal(t, want, uint32(key), "%s: ino %d dev %d", p, st.Ino, st.Dev)
		assert.Equal(t, uint8(0x5a), key.ProjID())
		assert.Equal(t, uint8(st.Dev), key.Dev())
		assert.Equal(t, uint16(st.Ino), key.Ino())
	}
}

func TestSameFileSameKey(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	require.NoError(t, os.Link(file, filepath.Join(dir, "link")))
	require.NoError(t, os.Symlink("f", filepath.Join(dir, "symlink")))
	want, err := ftok.Ftok(file, 'A')
	require.NoError(t, err)
	for _, p := range []string{
		filepath.Join(dir, "link"),
		filepath.Join(dir, "symlink"),
		filepath.Join(dir, ".", "f"),
		dir + "/../" + filepath.Base(dir) + "/f",
	} {
		got, err := ftok.Ftok(p, 'A')
		require.NoError(t, err)
		assert.Equal(t, want, got, p)
	}
}

func TestOnlyLowByteOfProjIDCounts(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	want, err := ftok.Ftok(file, 0x41)
	require.NoError(t, err)
	for _, id := range []int{'A', 0x141, 0x241, 0x7fffff41, -0xbf} {
		got, err := ftok.Ftok(file, id)
		require.NoError(t, err)
		assert.Equal(t, want, got, "id %#x", id)
	}
}

func TestZeroProjIDRejected(t *testing.T) {
	for _, id := range []int{0, 0x100, 0x4200} {
		_, err := ftok.Ftok("/", id)
		assert.ErrorIs(t, err, ftok.ErrZeroProjID, "id %#x", id)
	}
}

// TestMake checks the formula on numbers chosen to catch each mask and shift:
// device bytes with the top bit set (this machine's devices may have none), bits
// above the kept ones, and a top byte of 0x80 or more, which makes key_t negative.
func TestMake(t *testing.T) {
	tests := []struct {
		ino, dev uint64
		projID   int
		want     uint32
	}{
		{ino: 0x2e1, dev: 0xfe00, projID: 'A', want: 0x410002e1},
		{ino: 0xffff, dev: 0xff, projID: 0xff, want: 0xffffffff},
		{ino: 0x1_0000, dev: 0x100, projID: 0x101, want: 0x01000000},           // only bits above the masks
		{ino: 0xdead_beef, dev: 0x8_0000_00a5, projID: 0x7f, want: 0x7fa5beef}, // dev byte 0xa5, high bits dropped
		{ino: 0x8001, dev: 0x80, projID: 0x80, want: 0x80808001},
		{ino: 0, dev: 0x0103, projID: -0xbf, want: 0x41030000}, // -0xbf & 0xff is 0x41
	}
	for _, tt := range tests {
		key := ftok.Make(tt.ino, tt.dev, tt.projID)
		assert.Equal(t, tt.want, uint32(key), "Make(%#x, %#x, %#x) = %v", tt.ino, tt.dev, tt.projID, key)
		assert.Equal(t, uint8(tt.want>>24), key.ProjID())
		assert.Equal(t, uint8(tt.want>>16), key.Dev())
		assert.Equal(t, uint16(tt.want), key.Ino())
		assert.Equal(t, int32(tt.want), int32(key), "key_t is signed")
	}
}

func TestKeyString(t *testing.T) {
	tests := []struct {
		key  ftok.Key
		want string
	}{
		{0, "0x00000000"},
		{0x41002345, "0x41002345"},
		{-1, "0xffffffff"},
		{ftok.Make(0x12345, 0xfe01, 0xff), "0xff012345"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.key.String())
		assert.Equal(t, tt.want, fmt.Sprintf("%v", tt.key))
	}
}

// The key of inode 0x12345 on device 0xfe00 (major 254, minor 0) with id 'A':
// 'A' is 0x41, the device's low byte is 0x00, the inode's low 16 bits are 0x2345.
func ExampleMake() {
	key := ftok.Make(0x12345, 0xfe00, 'A')
	fmt.Println(key)
	fmt.Printf("proj id %#02x, device byte %#02x, inode bits %#04x\n", key.ProjID(), key.Dev(), key.Ino())
	// Output:
	// 0x41002345
	// proj id 0x41, device byte 0x00, inode bits 0x2345
}

// Two different files whose inode numbers differ by 65536 on the same device get
// the same key: the key keeps only 16 bits of the inode.
func ExampleMake_collision() {
	a := ftok.Make(70000, 0xfe00, 'A')
	b := ftok.Make(70000+65536, 0xfe00, 'A')
	fmt.Println(a, b, a == b)
	// Output: 0x41001170 0x41001170 true
}

// Only the low 8 bits of the id count: 0x141, 0x41 and 'A' give one key.
func ExampleFtok() {
	k1, _ := ftok.Ftok("/", 0x141)
	k2, _ := ftok.Ftok("/", 0x41)
	k3, _ := ftok.Ftok("/", 'A')
	fmt.Println(k1 == k2, k2 == k3)
	// Output: true true
}

func ExampleFtok_missingFile() {
	_, err := ftok.Ftok("/no/such/file", 'A')
	fmt.Println(errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOENT))
	fmt.Println(err)
	// Output:
	// true true
	// stat /no/such/file: no such file or directory
}

func ExampleFtok_zeroProjID() {
	_, err := ftok.Ftok("/", 0x100)
	fmt.Println(errors.Is(err, ftok.ErrZeroProjID))
	// Output: true
}

func ExampleKey_String() {
	fmt.Println(ftok.Key(0x41012345))
	fmt.Printf("%v %d\n", ftok.Key(-1), ftok.Key(-1)) // /proc/sysvipc/shm prints keys in decimal
	// Output:
	// 0x41012345
	// 0xffffffff -1
}
