//go:build linux

package keyparts

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/ipctest"
)

func TestMain(m *testing.M) { ipctest.Main(m, nil) }

func TestDecode(t *testing.T) {
	tests := []struct {
		in   string
		want Parts
		why  string
	}{
		{"0x41011234", Parts{ProjID: 0x41, Dev: 0x01, Ino: 0x1234}, "ipcs prints keys as 0x and 8 hex digits: byte 3 is proj_id, byte 2 the device, bytes 1-0 the inode"},
		{"0x4101ABCD", Parts{ProjID: 0x41, Dev: 0x01, Ino: 0xabcd}, "hex digits may be upper case"},
		{"1090589236", Parts{ProjID: 0x41, Dev: 0x01, Ino: 0x1234}, "/proc/sysvipc/shm prints the same key 0x41011234 in decimal"},
		{"-2130706432", Parts{ProjID: 0x81, Dev: 0x00, Ino: 0x0000}, "key_t is a signed 32-bit int: a proj_id of 0x80 or more makes the decimal key negative (0x81000000)"},
		{"0xff2a0001", Parts{ProjID: 0xff, Dev: 0x2a, Ino: 0x0001}, "the top bit set is still a valid key"},
		{"0X41011234", Parts{ProjID: 0x41, Dev: 0x01, Ino: 0x1234}, "the prefix may be 0X too, as in Go and C source"},
		{"+1090589236", Parts{ProjID: 0x41, Dev: 0x01, Ino: 0x1234}, "a decimal key may have a sign, + or -, as strconv.ParseInt accepts"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Decode(tt.in)
			require.NoError(t, err, "Decode(%q) must succeed", tt.in)
			assert.Equal(t, tt.want, got, "Decode(%q): %s", tt.in, tt.why)
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	tests := []struct {
		in       string
		sentinel error // nil: any error will do
		why      string
	}{
		{"0x00000000", ErrPrivate, "key 0 is IPC_PRIVATE: ftok never makes it, and shmget treats it as 'always a new segment'"},
		{"0", ErrPrivate, "key 0 in decimal is IPC_PRIVATE too"},
		{"0x00011234", ErrNoProjID, "a key whose proj_id byte is 0 was not made by ftok with a valid proj_id"},
		{"0x1234", nil, "ipcs always prints 8 hex digits; a short key is a typo"},
		{"0x4101123", nil, "7 hex digits is a typo, not a key"},
		{"0x1410112345", nil, "more than 8 hex digits does not fit in key_t"},
		{"4294967296", nil, "a decimal key must fit in a signed 32-bit key_t"},
		{"0xg1011234", nil, "g is not a hex digit"},
		{"0x+1011234", nil, "a sign has no place after 0x: strconv.ParseUint refuses it, strconv.ParseInt would not"},
		{"0x-1011234", nil, "a sign has no place after 0x"},
		{" 0x41011234", nil, "no spaces: trim the input yourself before calling Decode (strings.Fields does, when you read ipcs's columns)"},
		{"1090589236\n", nil, "no spaces, not even a trailing newline"},
		{"0x 1011234", nil, "no spaces inside either"},
		{"", nil, "an empty string is not a key"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Decode(tt.in)
			require.Error(t, err, "Decode(%q) returned %+v: it must refuse it, because %s", tt.in, got, tt.why)
			if tt.sentinel != nil {
				assert.ErrorIs(t, err, tt.sentinel, "Decode(%q): %s", tt.in, tt.why)
			}
			assert.NotContains(t, err.Error(), "TODO", "Decode(%q) still returns the stub's error", tt.in)
		})
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		in   Parts
		want string
		why  string
	}{
		{Parts{ProjID: 0x41, Dev: 0x01, Ino: 0x1234}, "0x41011234", "proj_id goes in the top byte, the device in the next, the inode in the low 16 bits"},
		{Parts{ProjID: 0x01, Dev: 0x00, Ino: 0x0001}, "0x01000001", "ipcs pads to 8 hex digits, so keys line up and compare as strings"},
		{Parts{ProjID: 0xff, Dev: 0xff, Ino: 0xffff}, "0xffffffff", "the top bit set is printed as hex, not as a negative number"},
		{Parts{ProjID: 0x81, Dev: 0x2a, Ino: 0xbeef}, "0x812abeef", "lower-case hex digits, as ipcs prints them"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got, err := Encode(tt.in)
			require.NoError(t, err, "Encode(%+v) must succeed", tt.in)
			assert.Equal(t, tt.want, got, "Encode(%+v): %s", tt.in, tt.why)

			back, err := Decode(got)
			require.NoError(t, err, "Decode(Encode(%+v)) must succeed", tt.in)
			assert.Equal(t, tt.in, back, "Decode must undo Encode")
		})
	}

	_, err := Encode(Parts{ProjID: 0, Dev: 1, Ino: 2})
	assert.ErrorIs(t, err, ErrNoProjID, "Encode must refuse proj_id 0: ftok(3) requires a nonzero proj_id")
}

func TestForFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rendezvous")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	link := filepath.Join(dir, "hardlink")
	require.NoError(t, os.Link(file, link))
	symlink := filepath.Join(dir, "symlink")
	require.NoError(t, os.Symlink(file, symlink))

	tests := []struct {
		path   string
		projID int
		why    string
	}{
		{file, 'A', "the parts must be those of glibc's ftok for the same file and id"},
		{file, 1, "any nonzero proj_id works"},
		{file, 0x141, "only the low 8 bits of proj_id count: 0x141 gives the key of 0x41"},
		{link, 'A', "a hard link is the same inode, so the same key"},
		{symlink, 'A', "ftok follows symbolic links (it uses stat, not lstat)"},
		{dir, 'Z', "a directory has an inode too"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			got, err := ForFile(tt.path, tt.projID)
			require.NoError(t, err, "ForFile(%q, %#x) must succeed", tt.path, tt.projID)
			key, err := ftok.Ftok(tt.path, tt.projID)
			require.NoError(t, err)
			want := Parts{ProjID: key.ProjID(), Dev: key.Dev(), Ino: key.Ino()}
			assert.Equal(t, want, got, "ForFile(%q, %#x) vs ftok's key %v: %s", tt.path, tt.projID, key, tt.why)

			s, err := Encode(got)
			require.NoError(t, err)
			assert.Equal(t, key.String(), s, "Encode(ForFile(...)) must be the key ipcs would show")
		})
	}
}

func TestForFileErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))

	_, err := ForFile(filepath.Join(dir, "missing"), 'A')
	require.Error(t, err, "ForFile on a file that does not exist must fail: ftok cannot make a key without an inode")
	assert.ErrorIs(t, err, fs.ErrNotExist, "return stat's error as it is (or wrapped with %%w), so callers can test for ENOENT")

	for _, id := range []int{0, 0x100, 0x200} {
		_, err := ForFile(file, id)
		assert.ErrorIs(t, err, ErrNoProjID, "ForFile(file, %#x): the low 8 bits are 0, which ftok(3) forbids", id)
	}
}
