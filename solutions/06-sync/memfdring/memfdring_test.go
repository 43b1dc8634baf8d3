//go:build linux

package memfdring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/06-sync/semring"
	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/ipctest"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/sem"
)

func TestMain(m *testing.M) {
	ipctest.Helper("consumer", helperConsumer)
	ipctest.Main(m, nil)
}

// The ring the two processes share: 06-sync's semring, in the memory from Create.
const (
	slots    = 16
	slotSize = 64
	messages = 2000
)

// message is the i-th message the producer sends: 1 to 150 bytes, so that some
// fill several slots.
func message(i int) []byte {
	return []byte(strings.Repeat(strconv.Itoa(i)+";", 150)[:1+i%150])
}

// helperConsumer is the other process. It knows only the socket's path (args[0]):
// it connects, takes the memory and the semaphore set's id with Receive, and reads
// the ring to its end, then prints how many messages came and their CRC-32.
func helperConsumer(args []string) int {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: args[0], Net: "unix"})
	if err != nil {
		fmt.Println("error: connect:", err)
		return 1
	}
	defer conn.Close()
	mem, setID, err := Receive(conn)
	if err != nil {
		fmt.Println("error: Receive:", err)
		return 1
	}
	defer unix.Munmap(mem)
	r, err := semring.NewReceiver(mem, sem.FromID(setID))
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	sum, n := crc32.NewIEEE(), 0
	buf := make([]byte, 4096)
	for {
		k, err := r.Receive(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Println("error: ring:", err)
			return 1
		}
		sum.Write(buf[:k])
		n++
	}
	fmt.Printf("received %d crc %08x\n", n, sum.Sum32())
	return 0
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(entries)
}

// failTODO stops the test with the stub's message, so that it reads as what to do.
func failTODO(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.HasPrefix(err.Error(), "TODO: ") {
		t.Fatal(err)
	}
}

// socketPair returns the two ends of a connected Unix stream socket.
func socketPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "socket")
		defer f.Close() // FileConn made its own copy
		c, err := net.FileConn(f)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

// create calls Create and undoes it when the test ends.
func create(t *testing.T, name string, size int) ([]byte, int) {
	t.Helper()
	mem, fd, err := Create(name, size)
	failTODO(t, err)
	require.NoError(t, err, "Create(%q, %d)", name, size)
	t.Cleanup(func() { _ = unix.Munmap(mem); _ = unix.Close(fd) })
	return mem, fd
}

func TestCreate(t *testing.T) {
	const size = 8192
	mem, fd := create(t, "ring", size)
	require.Len(t, mem, size, "the mapping is the whole file")

	link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(link, "/memfd:ring"), "descriptor %d is %q: it must come from memfd_create(%q, ...)", fd, link, "ring")

	var st unix.Stat_t
	require.NoError(t, unix.Fstat(fd, &st))
	assert.Equal(t, int64(size), st.Size, "the file must be size bytes long (ftruncate): memfd_create makes an empty file")

	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	require.NoError(t, err)
	assert.NotZero(t, flags&unix.FD_CLOEXEC, "the descriptor must be close-on-exec (MFD_CLOEXEC): a process this one starts must not inherit it by accident; handing it over is Send's job")

	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	require.NoError(t, err)
	for _, s := range []struct {
		seal int
		name string
	}{{unix.F_SEAL_SHRINK, "F_SEAL_SHRINK"}, {unix.F_SEAL_GROW, "F_SEAL_GROW"}, {unix.F_SEAL_SEAL, "F_SEAL_SEAL"}} {
		assert.NotZero(t, seals&s.seal, "the file must carry %s (memfd_create with MFD_ALLOW_SEALING, then fcntl F_ADD_SEALS after ftruncate); it has seals %#x", s.name, seals)
	}
	assert.Error(t, unix.Ftruncate(fd, size/2), "a sealed file refuses to shrink: a peer could otherwise cut the memory from under our mapping")

	mem[0], mem[size-1] = 'A', 'Z'
	got := make([]byte, 1)
	_, err = unix.Pread(fd, got, size-1)
	require.NoError(t, err)
	assert.Equal(t, byte('Z'), got[0], "a write through the mapping must reach the file: map it MAP_SHARED (MAP_PRIVATE would copy the page)")
}

func TestCreateRefusesABadSize(t *testing.T) {
	before := openFDs(t)
	for _, tt := range []struct {
		size int
		why  string
	}{
		{0, "there is nothing to map"},
		{-1, "there is nothing to map"},
		{1 << 62, "no address space has room for it: mmap fails after memfd_create and ftruncate succeeded"},
	} {
		mem, fd, err := Create("ring", tt.size)
		failTODO(t, err)
		assert.Error(t, err, "Create with size %d: %s", tt.size, tt.why)
		assert.Nil(t, mem)
		assert.Equal(t, -1, fd, "a failed Create returns fd -1")
	}
	assert.Equal(t, before, openFDs(t), "a failed Create must not leave a descriptor open")
}

// In one process first: what Send sends, Receive maps, and both mappings are the
// same memory.
func TestSendAndReceive(t *testing.T) {
	a, b := socketPair(t)
	mem, fd := create(t, "ring", 4096)
	copy(mem, "before")

	err := Send(a, fd, 1234)
	failTODO(t, err)
	require.NoError(t, err, "Send")
	before := openFDs(t)
	got, setID, err := Receive(b)
	failTODO(t, err)
	require.NoError(t, err, "Receive")
	defer unix.Munmap(got)

	assert.Equal(t, before, openFDs(t), "Receive must close the descriptor it received once the memory is mapped: the mapping keeps the memory alive")
	assert.Equal(t, 1234, setID, "the semaphore set's id travels as the message's data")
	require.Len(t, got, len(mem), "Receive maps the whole file: its size comes from fstat")
	assert.Equal(t, "before", string(got[:6]), "the received mapping shows what was written before Send")
	copy(got[100:], "from the receiver")
	assert.Equal(t, "from the receiver", string(mem[100:117]), "the two mappings are one piece of memory: map it MAP_SHARED, readable and writable")

	var st unix.Stat_t
	require.NoError(t, unix.Fstat(fd, &st), "Send must leave the sender's descriptor open: closing it is the caller's business")
}

// sendRaw sends data with the descriptors fds, as a peer that does not follow the
// protocol might.
func sendRaw(t *testing.T, c *net.UnixConn, data []byte, fds ...int) {
	t.Helper()
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	_, _, err := c.WriteMsgUnix(data, oob, nil)
	require.NoError(t, err)
}

func TestReceiveRefuses(t *testing.T) {
	id := binary.LittleEndian.AppendUint32(nil, 7)
	tests := []struct {
		name   string
		send   func(t *testing.T, c *net.UnixConn)
		target error // nil: any error
		why    string
	}{
		{"no descriptor", func(t *testing.T, c *net.UnixConn) { sendRaw(t, c, id) },
			ErrNoDescriptor, "a message without an SCM_RIGHTS control message carries no memory"},
		{"two descriptors", func(t *testing.T, c *net.UnixConn) {
			_, fd1 := create(t, "one", 4096)
			_, fd2 := create(t, "two", 4096)
			sendRaw(t, c, id, fd1, fd2)
		}, ErrNoDescriptor, "the protocol is one descriptor; close every one you were sent, or they stay open in your process"},
		{"a memory file without seals", func(t *testing.T, c *net.UnixConn) {
			fd, err := unix.MemfdCreate("unsealed", unix.MFD_CLOEXEC)
			require.NoError(t, err)
			defer unix.Close(fd)
			require.NoError(t, unix.Ftruncate(fd, 4096))
			sendRaw(t, c, id, fd)
		}, ErrNotSealed, "the sender could shrink it later, and our next access past the end would be a SIGBUS: check F_GET_SEALS for F_SEAL_SHRINK and F_SEAL_GROW"},
		{"a pipe", func(t *testing.T, c *net.UnixConn) {
			var p [2]int
			require.NoError(t, unix.Pipe2(p[:], unix.O_CLOEXEC))
			defer unix.Close(p[0])
			defer unix.Close(p[1])
			sendRaw(t, c, id, p[0])
		}, ErrNotSealed, "a pipe is no memory file: F_GET_SEALS fails for it (EINVAL), so it is not sealed either"},
		{"the peer hung up", func(t *testing.T, c *net.UnixConn) { require.NoError(t, c.Close()) },
			io.EOF, "a peer that closes the connection before sending anything: ReadMsgUnix says io.EOF (0 bytes); return an error that wraps it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := socketPair(t)
			tt.send(t, a)
			before := openFDs(t)
			mem, _, err := Receive(b)
			failTODO(t, err)
			if mem != nil {
				_ = unix.Munmap(mem)
			}
			require.Error(t, err, "Receive must refuse %s: %s", tt.name, tt.why)
			if tt.target != nil {
				assert.ErrorIs(t, err, tt.target, tt.why)
			}
			assert.Nil(t, mem, "a refused message maps nothing")
			assert.Equal(t, before, openFDs(t), "Receive must close every descriptor it received, also when it refuses them")
		})
	}
}

// The real thing: two processes, 06-sync's ring in memory from Create, the memory
// and the semaphore set's id handed over a Unix socket. Nothing of it is a System V
// segment: the memory never shows in ipcs, and goes away with its last mapping.
func TestTwoProcessesShareTheRing(t *testing.T) {
	ipctest.NoLeaks(t)
	size, values := semring.Layout(slots, slotSize)
	mem, fd := create(t, "semring", size)
	require.NoError(t, semring.Format(mem, slots, slotSize))
	set, err := sem.Create(ftok.Private, 0o600, values...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = set.Remove() })

	path := filepath.Join(t.TempDir(), "ring.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	require.NoError(t, err)
	defer l.Close()
	consumer := ipctest.StartHelper(t, "consumer", path)
	require.NoError(t, l.SetDeadline(time.Now().Add(20*time.Second)))
	conn, err := l.AcceptUnix()
	require.NoError(t, err, "the consumer process did not connect:\n%s", consumer.Stdout())
	defer conn.Close()

	require.NoError(t, Send(conn, fd, set.ID()), "Send")
	s, err := semring.NewSender(mem, set)
	require.NoError(t, err)
	sum := crc32.NewIEEE()
	for i := 0; i < messages; i++ {
		msg := message(i)
		sum.Write(msg)
		require.NoError(t, s.Send(msg), "sending message %d; the consumer said:\n%s", i, consumer.Stdout())
	}
	require.NoError(t, s.Close(), "closing the ring; the consumer said:\n%s", consumer.Stdout())

	r := consumer.Wait(t)
	require.Equal(t, 0, r.ExitCode, "the consumer process failed:\n%s%s", r.Stdout, r.Stderr)
	assert.Equal(t, fmt.Sprintf("received %d crc %08x", messages, sum.Sum32()), strings.TrimSpace(r.Stdout),
		"the other process must read every message, in order, through the memory it received")

	shms, err := procsysv.ReadShm()
	require.NoError(t, err)
	for _, seg := range shms {
		assert.NotContains(t, []int{os.Getpid(), consumer.Pid()}, seg.CPID, "segment %d was made by the test or the consumer: the ring's memory must come from memfd_create, not shmget", seg.ID)
	}
}
