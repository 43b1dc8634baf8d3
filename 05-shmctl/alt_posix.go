//go:build linux

package main

// Appendix step 2: POSIX shared memory. shm_open(3) is a library function: glibc
// opens /dev/shm/NAME (O_NOFOLLOW|O_CLOEXEC added) on the tmpfs mounted there, and
// the program maps the file with mmap(2). Go has no shm_open, and needs none.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
)

const devShm = "/dev/shm"

// posixName is the name this lesson gives its POSIX shared memory object: with the
// pid of the process that creates it, so that the child can check it is its parent's.
func posixName(pid int) string { return fmt.Sprintf("05-shmctl-%d", pid) }

// posix creates /dev/shm/05-shmctl-PID, maps it, has a child open and map it by
// name, and unlinks the name.
func (a *altState) posix() error {
	l := a.l
	l.Step("POSIX shared memory: shm_open is a file in /dev/shm, plus mmap")
	obj := posixName(os.Getpid())
	path := filepath.Join(devShm, obj)
	l.Call("shm_open(\"/%s\", O_RDWR|O_CREAT|O_EXCL, 0600)    /* glibc: open(%q, ...|O_NOFOLLOW|O_CLOEXEC) */", obj, path)
	var f *os.File
	err := l.Keep("remove "+path, func() (func() error, error) {
		var err error
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		return func() error {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			return nil
		}, err
	})
	if errors.Is(err, os.ErrNotExist) {
		l.Result("%s: no %s here (some minimal containers have none); this step is skipped", errText(err), devShm)
		return nil
	}
	if err != nil {
		return lesson.Failed(fmt.Sprintf("open(%q)", path), err, "")
	}
	defer f.Close() // the mapping keeps the memory; the descriptor is not needed after mmap
	l.Call("ftruncate(fd, %d); mmap(NULL, %d, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)", altSize, altSize)
	if err := f.Truncate(altSize); err != nil {
		return err
	}
	mem, err := mapShared(int(f.Fd()), altSize)
	if err != nil {
		return lesson.Failed("mmap", err, "")
	}
	err = exchange(l, mem, func() (*child, error) {
		return startRole(l, "it opens the name", roleAltPosix, "/"+obj)
	}, nil)
	if err != nil {
		return err
	}
	l.Say("Found by a path, with a file's permissions. Forgotten shm_unlink, or a crash before")
	l.Say("it, and the file stays in /dev/shm until reboot, holding its memory; ls shows it.")
	l.Look("ls -l %s    # step 6 unlinks it", path)
	if left := leftPosixObjects(); len(left) > 0 {
		l.Say("Here is the crash case for real: runs of this lesson whose pids no longer run")
		l.Say("here, killed most likely, left these, still holding memory. Unless another")
		l.Say("container shares this /dev/shm (its pids are not seen here), remove them yourself:")
		l.Look("rm %s", strings.Join(left, " "))
	}
	a.posixPath = path
	a.maps = append(a.maps, path)
	return nil
}

// leftPosixObjects lists the objects /dev/shm/05-shmctl-PID of yours whose process
// no longer exists in this PID namespace: left by a run of this lesson that was
// killed before step 6 (kill -9 gives no chance to unlink), or, where /dev/shm is
// shared with a container, made by a run there, which the narration allows for. The lesson only shows them: removing files it
// did not create in this run is for you to decide.
func leftPosixObjects() []string {
	entries, err := os.ReadDir(devShm)
	if err != nil {
		return nil
	}
	var left []string
	for _, e := range entries {
		pid, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "05-shmctl-"))
		if err != nil || e.Name() != posixName(pid) || pid == os.Getpid() {
			continue
		}
		info, err := e.Info()
		if err != nil || !e.Type().IsRegular() {
			continue
		}
		if st, ok := info.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Geteuid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			left = append(left, filepath.Join(devShm, e.Name()))
		}
	}
	return left
}

// altPosix is the child of appendix step 2: it opens its parent's object by name,
// maps it and answers. It opens only /05-shmctl-PPID, without following a symbolic
// link, and only a file of the lesson's size owned by the same user.
func altPosix(l *lesson.Lesson, args []string) error {
	if len(args) != 1 {
		return lesson.Usagef("%s takes one argument, a name /05-shmctl-PID", roleAltPosix)
	}
	want := "/" + posixName(os.Getppid())
	if args[0] != want {
		return fmt.Errorf("%s is not %s, the name of the lesson that started me: I open no other", lesson.Quote(args[0]), want)
	}
	path := filepath.Join(devShm, want)
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return lesson.Failed(fmt.Sprintf("open(%q, O_RDWR|O_NOFOLLOW)", path), err, "")
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != altSize || int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s is not the lesson's object (a file of %d bytes owned by uid %d): I touch no other", path, altSize, os.Geteuid())
	}
	fmt.Fprintf(l.Out, "open(%q, O_RDWR), mmap(..., MAP_SHARED, fd, 0)\n", path)
	mem, err := mapShared(int(f.Fd()), altSize)
	if err != nil {
		return lesson.Failed("mmap", err, "")
	}
	answer(l, mem)
	return unix.Munmap(mem)
}
