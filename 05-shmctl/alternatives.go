//go:build linux

package main

// The appendix, `go run ./05-shmctl alternatives`: where System V stops. The same
// small exchange between two processes (one writes a message, the other reads it
// and writes a reply) done with System V shared memory, POSIX shared memory, a
// memfd passed over a Unix socket, a memfd inherited by the child, and
// MAP_SHARED|MAP_ANONYMOUS across fork in C; then what they have in common and when
// to choose which. Each way is in the file named beside it in alternatives().

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/lesson"
)

// altSize is the size of the memory in every exchange: one page. The parent's
// message is in the first altHalf bytes, the reply in the next.
const (
	altSize = 4096
	altHalf = 128
)

// alternatives is the appendix: one exchange, five ways, then the comparison.
func alternatives(l *lesson.Lesson) error {
	a := &altState{l: l}
	for _, step := range []func() error{
		a.sysv,            // alt_sysv.go: shmget and shmat, the id on the child's command line
		a.posix,           // alt_posix.go: shm_open is a file in /dev/shm, plus mmap
		a.memfdOverSocket, // alt_memfd.go: memfd_create, the descriptor sent with SCM_RIGHTS; seals
		a.inherited,       // alt_memfd.go: a memfd inherited through exec, Go's stand-in for fork
		a.forkInC,         // alt_fork.go: MAP_SHARED|MAP_ANONYMOUS and fork, in C
		a.sideBySide,      // alternatives.go: one kind of memory under four names
		a.whenToChoose,    // alternatives.go: the table
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// altState is what the appendix's steps share: the mappings it keeps until the end,
// to show them side by side.
type altState struct {
	l         *lesson.Lesson
	maps      []string // what to look for in /proc/self/maps, one per mapping kept
	posixPath string   // the POSIX object, until step 6 unlinks it
}

// exchange is the parent's half of the exchange over mem: write a message, start the
// child with start, let handoff give it the memory if it must (nil if it finds it on
// its own), wait until it tells PONG, and read its reply.
func exchange(l *lesson.Lesson, mem []byte, start func() (*child, error), handoff func(*child) error) error {
	clear(mem[:2*altHalf])
	msg := fmt.Sprintf("ping from pid %d", os.Getpid())
	copy(mem, msg)
	l.Result("wrote %q at %p", msg, &mem[0])
	c, err := start()
	if err != nil {
		return err
	}
	if handoff != nil {
		if err := handoff(c); err != nil {
			return err
		}
	}
	if _, err := c.Await("PONG"); err != nil {
		return err
	}
	if err := c.Finish(); err != nil {
		return fmt.Errorf("the second process (pid %d): %w", c.Pid, err)
	}
	l.Result("read back %q", cString(mem[altHalf:2*altHalf]))
	return nil
}

// answer is the child's half: read the parent's message from mem, write the reply
// after it, and tell the parent (PONG).
func answer(l *lesson.Lesson, mem []byte) {
	fmt.Fprintf(l.Out, "mapped at %p: read %q\n", &mem[0], cString(mem[:altHalf]))
	reply := fmt.Sprintf("pong from pid %d", os.Getpid())
	copy(mem[altHalf:2*altHalf-1], reply)
	fmt.Fprintf(l.Out, "wrote %q\n", reply)
	l.Tell("PONG")
}

// mapShared maps size bytes of the file fd into memory, shared and read-write.
func mapShared(fd, size int) ([]byte, error) {
	return unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

// sideBySide unlinks the POSIX object's name and shows this process's mappings of
// the steps before: four names for one kind of memory.
func (a *altState) sideBySide() error {
	l := a.l
	l.Step("Side by side: one kind of memory, four names")
	if a.posixPath != "" {
		l.Call("shm_unlink(\"/%s\")    /* unlink(%q) */", filepath.Base(a.posixPath), a.posixPath)
		if err := os.Remove(a.posixPath); err != nil {
			return lesson.Failed(fmt.Sprintf("unlink(%q)", a.posixPath), err, "")
		}
		l.Result("0: the name is gone; the memory stays while it is mapped or open, like IPC_RMID")
	}
	l.Call("grep this process's mappings of steps 1 to 4 in /proc/%d/maps:", os.Getpid())
	lines, err := mapsLines(a.maps)
	if err != nil {
		return err
	}
	device := "?"
	for _, line := range lines {
		l.Say("  %s", line)
		if f := strings.Fields(line); len(f) >= 6 && strings.HasPrefix(f[5], "/SYSV") {
			device = f[3]
		}
	}
	l.Say("s: shared. Each is a file of tmpfs, the kernel's memory file system (shmem). System V")
	l.Say("segments, memfds and MAP_SHARED|MAP_ANONYMOUS memory live on its internal mount")
	l.Say("(device %s here, no path); POSIX shared memory lives on the one mounted at /dev/shm.", device)
	l.Say("The same kind of pages, counted and swapped alike; what differs is how a second process")
	l.Say("finds them and when they go. \"(deleted)\": no name is left; the memory lives while mapped.")
	l.Say("The C program's mapping in step 5 was \"/dev/zero (deleted)\": one more of these files.")
	l.Look("grep -E 'SYSV|/dev/shm/|memfd:|/dev/zero' /proc/%d/maps", os.Getpid())
	return nil
}

// mapsLines returns the lines of /proc/self/maps that contain one of want, with
// their columns joined by one space.
func mapsLines(want []string) ([]string, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		for _, w := range want {
			if strings.Contains(sc.Text(), w) {
				lines = append(lines, strings.Join(strings.Fields(sc.Text()), " "))
			}
		}
	}
	return lines, sc.Err()
}

// whenToChoose prints the table of README.md's "Where System V stops", short.
func (a *altState) whenToChoose() error {
	l := a.l
	l.Step("When to choose which")
	rows := [][6]string{
		{"", "System V shm", "POSIX shm", "memfd, socket", "memfd, exec", "anon, fork"},
		{"found by", "key or id", "/dev/shm/NAME", "fd sent", "fd inherited", "fork only"},
		{"who may", "9 mode bits", "file mode", "who gets the fd", "the child", "the children"},
		{"goes away", "IPC_RMID+shmdt", "unlink+munmap", "close+munmap", "close+munmap", "munmap, exit"},
		{"after kill -9", "stays (ipcs)", "stays (ls)", "freed", "freed", "freed"},
		{"size", "fixed", "ftruncate", "can be sealed", "ftruncate", "fixed"},
		{"limits", "shmmax/all/mni", "/dev/shm size", "memory", "memory", "memory"},
		{"namespaces", "IPC", "mount", "fd crosses", "process tree", "process tree"},
		{"seals", "no", "no", "F_ADD_SEALS", "if created so", "no"},
		{"look with", "ipcs", "ls /dev/shm", "/proc/PID/fd", "/proc/PID/fd", "/proc/PID/maps"},
		{"portable", "every Unix", "POSIX", "Linux, FreeBSD", "Linux, FreeBSD", "every Unix"},
	}
	for _, r := range rows {
		l.Say("%-13s %-15s %-14s %-16s %-15s %s", r[0], r[1], r[2], r[3], r[4], r[5])
	}
	l.Say("System V still does best: semaphores with SEM_UNDO, which the kernel undoes when a")
	l.Say("process dies (lesson 06); ipcs, which lists every object with its creator, last user,")
	l.Say("attach count and times; and keys that let unrelated programs meet without a file.")
	l.Say("For new code that passes memory between programs you write, a memfd over a Unix socket")
	l.Say("leaves nothing behind and can be sealed; README.md has the whole table.")
	return nil
}
