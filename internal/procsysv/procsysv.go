//go:build linux

package procsysv

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/learn-sysv/shm-course/internal/ftok"
)

// Paths of the kernel's tables. Variables, so that tests can point them elsewhere.
var (
	ShmPath = "/proc/sysvipc/shm"
	SemPath = "/proc/sysvipc/sem"
)

// Shm is one line of /proc/sysvipc/shm: one shared memory segment.
type Shm struct {
	Key    ftok.Key // 0 for IPC_PRIVATE, and for a segment marked for removal
	ID     int      // the shmid that shmat and shmctl take
	Mode   uint32   // permission bits plus SHM_DEST (01000) and SHM_LOCKED (02000)
	Size   uint64   // shm_segsz: the size asked for, not rounded up to pages
	CPID   int      // the process that created it
	LPID   int      // the process that last attached or detached it
	Nattch int      // current number of attachments
	UID    uint32   // owner
	GID    uint32
	CUID   uint32 // creator
	CGID   uint32
	Atime  int64 // last attach, seconds since the epoch (0: never)
	Dtime  int64 // last detach
	Ctime  int64 // creation or last IPC_SET
	RSS    uint64
	Swap   uint64
}

// Sem is one line of /proc/sysvipc/sem: one semaphore set.
type Sem struct {
	Key   ftok.Key
	ID    int // the semid that semop and semctl take
	Mode  uint32
	NSems int
	UID   uint32
	GID   uint32
	CUID  uint32
	CGID  uint32
	Otime int64 // last semop (0: never, which is how openers know a set is not yet initialised)
	Ctime int64
}

// ReadShm returns every segment listed in /proc/sysvipc/shm.
func ReadShm() ([]Shm, error) {
	rows, err := readTable(ShmPath, 16)
	if err != nil {
		return nil, err
	}
	list := make([]Shm, 0, len(rows))
	for _, f := range rows {
		list = append(list, Shm{
			Key: ftok.Key(f.int(0)), ID: int(f.int(1)), Mode: f.octal(2), Size: f.uint(3),
			CPID: int(f.int(4)), LPID: int(f.int(5)), Nattch: int(f.int(6)),
			UID: uint32(f.uint(7)), GID: uint32(f.uint(8)), CUID: uint32(f.uint(9)), CGID: uint32(f.uint(10)),
			Atime: f.int(11), Dtime: f.int(12), Ctime: f.int(13), RSS: f.uint(14), Swap: f.uint(15),
		})
		if f.err != nil {
			return nil, fmt.Errorf("%s: %w", ShmPath, f.err)
		}
	}
	return list, nil
}

// ReadSem returns every semaphore set listed in /proc/sysvipc/sem.
func ReadSem() ([]Sem, error) {
	rows, err := readTable(SemPath, 10)
	if err != nil {
		return nil, err
	}
	list := make([]Sem, 0, len(rows))
	for _, f := range rows {
		list = append(list, Sem{
			Key: ftok.Key(f.int(0)), ID: int(f.int(1)), Mode: f.octal(2), NSems: int(f.int(3)),
			UID: uint32(f.uint(4)), GID: uint32(f.uint(5)), CUID: uint32(f.uint(6)), CGID: uint32(f.uint(7)),
			Otime: f.int(8), Ctime: f.int(9),
		})
		if f.err != nil {
			return nil, fmt.Errorf("%s: %w", SemPath, f.err)
		}
	}
	return list, nil
}

// FindShm returns the segment with the given id, and whether it exists.
func FindShm(id int) (Shm, bool, error) {
	list, err := ReadShm()
	if err != nil {
		return Shm{}, false, err
	}
	for _, s := range list {
		if s.ID == id {
			return s, true, nil
		}
	}
	return Shm{}, false, nil
}

// fields is one table row being parsed; the first parse error sticks.
type fields struct {
	f   []string
	err error
}

func (r *fields) int(i int) int64 {
	v, err := strconv.ParseInt(r.f[i], 10, 64)
	r.keep(err)
	return v
}

func (r *fields) uint(i int) uint64 {
	v, err := strconv.ParseUint(r.f[i], 10, 64)
	r.keep(err)
	return v
}

func (r *fields) octal(i int) uint32 {
	v, err := strconv.ParseUint(r.f[i], 8, 32)
	r.keep(err)
	return uint32(v)
}

func (r *fields) keep(err error) {
	if r.err == nil {
		r.err = err
	}
}

// readTable reads a /proc/sysvipc file: a header line, then one object per line.
func readTable(path string, minFields int) ([]*fields, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseTable(f, path, minFields)
}

func parseTable(r io.Reader, path string, minFields int) ([]*fields, error) {
	var rows []*fields
	sc := bufio.NewScanner(r)
	header := true
	for sc.Scan() {
		if header {
			header = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < minFields {
			return nil, fmt.Errorf("%s: line %q has %d fields, want at least %d", path, sc.Text(), len(f), minFields)
		}
		rows = append(rows, &fields{f: f})
	}
	return rows, sc.Err()
}
