//go:build linux

package main

// Size, pages and memory: what shmget promises, when memory really arrives, and
// the flags that change the promise (shmget(2), proc_sys_vm(5) on
// /proc/sys/vm/overcommit_memory, the kernel's Documentation/mm/overcommit-accounting
// and admin-guide/mm/hugetlbpage).

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/caps"
	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
	"github.com/learn-sysv/shm-course/internal/shm"
)

const (
	touchSegment = 64 << 20 // the segment of the touching step
	touchBytes   = 1 << 20  // how much of it is written, then how much more is read
)

// untouched creates a segment of 64 MiB and attaches it: shmget and shmat count
// pages and give addresses, but no memory. It returns the attachment for touch, or
// nil where a System V limit refuses the segment (the step says why).
func untouched(l *lesson.Lesson) (*attachment, error) {
	l.Step("A new segment has no memory yet")
	flg := unix.IPC_CREAT | 0o600
	id, err := createSegment(l, ftok.Private, touchSegment, flg)
	if err != nil {
		l.Result("%s", lesson.ErrnoText(err))
		if explainLimit(l, err, touchSegment) {
			return nil, nil
		}
		return nil, lesson.Failed(shmgetCall(ftok.Private, touchSegment, flg), err, whyCreateFailed(err, touchSegment))
	}
	l.Result("id %d: %s", id, bytesString(touchSegment))
	if err := showRSS(l, id, nil); err != nil {
		return nil, err
	}
	b, detach, err := attach(l, id, 0)
	if err != nil {
		return nil, lesson.Failed(fmt.Sprintf("shmat(%d, NULL, 0)", id), err, "")
	}
	l.Result("attached at %#x", shm.Addr(b))
	if err := showRSS(l, id, b); err != nil {
		return nil, err
	}
	l.Say("shmget counted %d pages against SHMALL and gave them no memory: the segment's", touchSegment/os.Getpagesize())
	l.Say("rss (resident: in memory) is 0. shmat gave this process %s of addresses,", bytesString(touchSegment))
	l.Say("still with nothing behind them: Rss 0 kB. Look from another terminal (-step")
	l.Say("pauses before the next step):")
	l.Look("awk '$2 == %d {print $15}' /proc/sysvipc/shm   # the segment's rss, in bytes", id)
	l.Look("grep -A4 '^%x-' /proc/%d/smaps   # this process's mapping: Rss", shm.Addr(b), os.Getpid())
	l.Look("ipcs -m -u   # pages allocated (counted) and pages resident, for all segments")
	return &attachment{id: id, b: b, detach: detach}, nil
}

// attachment is a segment the lesson has attached.
type attachment struct {
	id     int
	b      []byte
	detach func() error
}

// touch writes to 1 MiB of the segment untouched made, reads the next 1 MiB, and
// detaches it, showing what is in memory after each.
func touch(l *lesson.Lesson, a *attachment) error {
	l.Step("Memory arrives when a page is first touched")
	if a == nil {
		l.Say("No segment to touch: the previous step could not create one here.")
		return nil
	}
	page := os.Getpagesize()
	l.Call("write one byte into each of the first %d pages (%s)", touchBytes/page, bytesString(touchBytes))
	for i := 0; i < touchBytes; i += page {
		a.b[i] = 1
	}
	if err := showRSS(l, a.id, a.b); err != nil {
		return err
	}
	l.Call("read one byte from each of the next %d pages", touchBytes/page)
	var sum int
	for i := touchBytes; i < 2*touchBytes; i += page {
		sum += int(a.b[i])
	}
	l.Result("read %d pages, all zero: %t", touchBytes/page, sum == 0)
	if err := showRSS(l, a.id, a.b); err != nil {
		return err
	}
	l.Call("shmdt(%#x)", shm.Addr(a.b))
	if err := a.detach(); err != nil {
		return lesson.Failed(fmt.Sprintf("shmdt(%#x)", shm.Addr(a.b)), err, "")
	}
	if err := showRSS(l, a.id, nil); err != nil {
		return err
	}
	l.Say("The first touch of a page makes the kernel allocate it, clear it and map it:")
	l.Say("writing %s brought %s. A read brings a page too: every attachment must", bytesString(touchBytes), bytesString(touchBytes))
	l.Say("map the segment's own pages, so that a later write is seen by all, so the kernel")
	l.Say("cannot lend the shared zero page it gives untouched private memory. After shmdt")
	l.Say("the memory stays with the segment, not with the process: it goes only when the")
	l.Say("segment is destroyed (this one at the end of the lesson).")
	l.Look("awk '$2 == %d {print $15}' /proc/sysvipc/shm   # rss %d, while -step pauses", a.id, 2*touchBytes)
	return nil
}

// showRSS prints how much of segment id is in memory, from /proc/sysvipc/shm,
// and, while it is attached at b, how much of this process's mapping is.
func showRSS(l *lesson.Lesson, id int, b []byte) error {
	seg, exists, err := procsysv.FindShm(id)
	if err != nil {
		return err
	}
	if !exists {
		return fmt.Errorf("segment %d is not in %s", id, procsysv.ShmPath)
	}
	if b == nil {
		l.Result("/proc/sysvipc/shm: rss %d bytes", seg.RSS)
		return nil
	}
	m, err := findMapping(shm.Addr(b))
	if err != nil {
		return err
	}
	l.Result("/proc/sysvipc/shm: rss %d bytes; /proc/self/smaps: Rss %d kB of %d kB", seg.RSS, m.rss/1024, m.size/1024)
	return nil
}

// Overcommit modes, /proc/sys/vm/overcommit_memory.
const (
	overcommitGuess  = 0 // the default: refuse only a single request beyond RAM + swap
	overcommitAlways = 1 // never refuse
	overcommitNever  = 2 // count every promise against CommitLimit
)

// memory is what the overcommit step reads about the machine.
type memory struct {
	mode                   uint64 // /proc/sys/vm/overcommit_memory
	ram, swap, commitLimit uint64 // /proc/meminfo, in bytes
}

// tooBig returns a size the overcommit check of mode refuses on this machine (the
// limit rounded up to whole GiB, plus 1 GiB), with the limit it is above.
func (m memory) tooBig() (size, limit uint64) {
	limit = m.ram + m.swap
	if m.mode == overcommitNever {
		limit = m.commitLimit
	}
	return (limit/gib + 2) * gib, limit
}

const gib = 1 << 30

// overcommit shows the accounting behind ENOMEM: shmget promises the memory of a
// segment at once (it does not allocate it), and the overcommit policy decides
// which promises it may make; SHM_NORESERVE makes none. It returns the
// SHM_NORESERVE segment, which the next step removes, so that -step pauses while it
// exists; nil where none was made (the step says why).
func overcommit(l *lesson.Lesson) (*segment, error) {
	l.Step("What shmget promises: ENOMEM, and SHM_NORESERVE")
	var m memory
	var err error
	if m.mode, err = readNumber("/proc/sys/vm/overcommit_memory"); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		v    *uint64
	}{{"MemTotal", &m.ram}, {"SwapTotal", &m.swap}, {"CommitLimit", &m.commitLimit}} {
		if *f.v, err = meminfo(f.name); err != nil {
			return nil, err
		}
	}
	l.Result("/proc/sys/vm/overcommit_memory = %d; /proc/meminfo: MemTotal %s, SwapTotal %s, CommitLimit %s",
		m.mode, bytesString(m.ram), bytesString(m.swap), bytesString(m.commitLimit))
	l.Look("cat /proc/sys/vm/overcommit_memory; grep -E 'MemTotal|SwapTotal|Commit' /proc/meminfo")
	size, limit := m.tooBig()
	switch m.mode {
	case overcommitGuess:
		l.Say("Mode 0, the default (\"heuristic\"): shmget charges a new segment's pages at once,")
		l.Say("and refuses one request larger than all RAM plus swap (%s), however little", bytesString(limit))
		l.Say("is in use. %s is more than that:", bytesString(size))
	case overcommitAlways:
		l.Say("Mode 1 (\"always overcommit\"): the kernel promises any size and checks nothing,")
		l.Say("so even %s, more than RAM plus swap (%s), is created:", bytesString(size), bytesString(m.ram+m.swap))
	case overcommitNever:
		l.Say("Mode 2 (\"never overcommit\"): every promise (a segment, a private writable")
		l.Say("mapping) counts against CommitLimit, swap plus overcommit_ratio%% of RAM (%s),", bytesString(limit))
		l.Say("minus what is promised already (Committed_AS). %s is more than the limit:", bytesString(size))
	default:
		l.Say("Mode %d is not one proc_sys_vm(5) describes; here is what this kernel does:", m.mode)
	}
	flg := unix.IPC_CREAT | 0o600
	id, err := createSegment(l, ftok.Private, int(size), flg)
	if err == nil {
		l.Result("id %d", id)
		if err := removeNow(l, id); err != nil {
			return nil, err
		}
	} else {
		l.Result("%s", lesson.ErrnoText(err))
		if explainLimit(l, err, size) {
			return nil, nil
		}
		if !errors.Is(err, unix.ENOMEM) {
			return nil, lesson.Failed(shmgetCall(ftok.Private, int(size), flg), err, "")
		}
		l.Say("ENOMEM, though shmget allocates nothing: it could not promise that much.")
	}

	l.Say("SHM_NORESERVE asks shmget to promise nothing, so nothing is counted:")
	flg = unix.IPC_CREAT | shmNoReserve | 0o600
	id, err = createSegment(l, ftok.Private, int(size), flg)
	if err != nil {
		l.Result("%s", lesson.ErrnoText(err))
		if m.mode == overcommitNever && errors.Is(err, unix.ENOMEM) {
			l.Say("In mode 2 the kernel ignores SHM_NORESERVE (ipc/shm.c: no uncounted segments")
			l.Say("when overcommit is off), so this is refused too.")
			return nil, nil
		}
		return nil, lesson.Failed(shmgetCall(ftok.Private, int(size), flg), err, "")
	}
	l.Result("id %d: a segment of %s, on a machine with %s of RAM", id, bytesString(size), bytesString(m.ram))
	l.Look("ipcs -m -i %d    # bytes %d (-step pauses here; the next step removes it)", id, size)
	return &segment{id: id}, nil
}

// segment is a segment a step made and a later step removes.
type segment struct {
	id int
}

// noReserveRisk removes the SHM_NORESERVE segment of the step before, if it made
// one, and says what such a segment risks.
func noReserveRisk(l *lesson.Lesson, seg *segment) error {
	l.Step("What SHM_NORESERVE risks")
	if seg != nil {
		if err := removeNow(l, seg.id); err != nil {
			return err
		}
	} else {
		l.Say("The step before made no SHM_NORESERVE segment here, and said why. Where it can:")
	}
	l.Say("The risk is the one the check was there to prevent: nothing was set aside, so")
	l.Say("when processes touch the pages later and memory (and swap) runs out, a page")
	l.Say("fault cannot be served, and the kernel's OOM killer ends a process to free")
	l.Say("memory, perhaps one that did nothing wrong. Use it for a large segment that is")
	l.Say("touched sparsely, knowing that the memory is not guaranteed.")
	return nil
}

// removeNow narrates and makes the IPC_RMID of segment id, which a step is done
// with (its cleanup, when the lesson ends, then finds it gone).
func removeNow(l *lesson.Lesson, id int) error {
	l.Call("shmctl(%d, IPC_RMID, NULL)", id)
	if err := shm.Remove(id); err != nil {
		return lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_RMID, NULL)", id), err, "")
	}
	l.Result("removed")
	return nil
}

// explainLimit explains an EINVAL or ENOSPC that a System V limit gave a segment
// of size bytes before any memory was counted, and reports whether it did.
func explainLimit(l *lesson.Lesson, err error, size uint64) bool {
	switch {
	case errors.Is(err, unix.EINVAL):
		max, _ := readNumber("/proc/sys/kernel/shmmax")
		l.Say("SHMMAX here is %d bytes, less than %s: shmget refuses a size above", max, bytesString(size))
		l.Say("SHMMAX with EINVAL before it counts any memory (/proc/sys/kernel/shmmax).")
	case errors.Is(err, unix.ENOSPC):
		all, _ := readNumber("/proc/sys/kernel/shmall")
		l.Say("SHMALL here is %d pages for all segments together (or all SHMMNI ids are", all)
		l.Say("taken): %s would pass it, so shmget refuses with ENOSPC before it counts", bytesString(size))
		l.Say("any memory (ipcs -m -l for the limits; ipcs -m -u: pages in use).")
	default:
		return false
	}
	return true
}

// hugePages tries SHM_HUGETLB: a segment backed by huge pages, which come only from
// a pool the administrator reserves, to processes allowed to use it.
func hugePages(l *lesson.Lesson) error {
	l.Step("Huge pages: SHM_HUGETLB")
	huge, err := meminfo("Hugepagesize")
	if err != nil {
		l.Result("no Hugepagesize in /proc/meminfo: this kernel has no huge pages (%v)", err)
		return nil
	}
	reserved, _ := readNumber("/proc/sys/vm/nr_hugepages")
	free, _ := meminfo("HugePages_Free")
	group, _ := readNumber("/proc/sys/vm/hugetlb_shm_group")
	l.Result("huge page size %s; /proc/sys/vm/nr_hugepages = %d reserved, %d free (HugePages_Free)", bytesString(huge), reserved, free)
	// The kernel checks both in the initial user namespace: capable(CAP_IPC_LOCK),
	// and the group as the machine numbers it (ipc/shm.c, can_do_hugetlb_shm).
	capLock, member := caps.HasInInitialNamespace(unix.CAP_IPC_LOCK), inGroup(int(group))
	lockText := yesNo(capLock, "yes", "no")
	if !capLock && caps.Has(unix.CAP_IPC_LOCK) {
		lockText = "only in its own user namespace, where it does not count for this"
	}
	l.Result("this process: CAP_IPC_LOCK %s; group %d (/proc/sys/vm/hugetlb_shm_group) %s", lockText, group, yesNo(member, "is one of its groups", "is not one of its groups"))
	l.Look("grep -i huge /proc/meminfo; cat /proc/sys/vm/hugetlb_shm_group")
	l.Say("SHM_HUGETLB needs CAP_IPC_LOCK or membership of that group, and free huge pages:")
	flg := unix.IPC_CREAT | shmHugeTLB | 0o600
	id, err := createSegment(l, ftok.Private, int(huge), flg)
	switch {
	case err == nil:
		l.Result("id %d", id)
		if err := touchHuge(l, id); err != nil {
			return err
		}
		l.Say("One byte written, one whole huge page in memory: the kernel maps this segment")
		l.Say("with %s pages (KernelPageSize), fewer pages for the same memory, so fewer", bytesString(huge))
		l.Say("TLB entries; databases use it for their large shared buffers.")
		return removeNow(l, id)
	case errors.Is(err, unix.EPERM):
		l.Result("%s", lesson.ErrnoText(err))
		l.Say("EPERM: this process has neither CAP_IPC_LOCK nor group %d. An administrator", group)
		l.Say("may set vm.hugetlb_shm_group to a group of users allowed huge pages; root has")
		l.Say("CAP_IPC_LOCK. (Older kernels let RLIMIT_MEMLOCK stand in; this one only logs")
		l.Say("\"Using mlock ulimits for SHM_HUGETLB is obsolete\" to dmesg and refuses.)")
		return nil
	case errors.Is(err, unix.ENOMEM):
		l.Result("%s", lesson.ErrnoText(err))
		l.Say("ENOMEM: the segment needs %d huge page(s) and %d are free. Huge pages are not", 1, free)
		l.Say("taken from ordinary memory on demand: the administrator reserves a pool, e.g.")
		l.Say("sysctl vm.nr_hugepages=64 (not on a machine you share), and shmget takes its")
		l.Say("pages from there. With SHM_NORESERVE shmget reserves none of them:")
		return noReserveHuge(l, int(huge))
	default:
		l.Result("%s", lesson.ErrnoText(err))
		if explainLimit(l, err, huge) {
			return nil
		}
		return lesson.Failed(shmgetCall(ftok.Private, int(huge), flg), err, "")
	}
}

// touchHuge attaches segment id, writes one byte and shows the mapping's page size
// and what is in memory.
func touchHuge(l *lesson.Lesson, id int) error {
	b, detach, err := attach(l, id, 0)
	if err != nil {
		return lesson.Failed(fmt.Sprintf("shmat(%d, NULL, 0)", id), err, "")
	}
	defer detach()
	l.Call("b[0] = 1")
	b[0] = 1
	m, err := findMapping(shm.Addr(b))
	if err != nil {
		return err
	}
	l.Result("/proc/self/smaps: KernelPageSize %d kB, Rss %d kB", m.kernelPageSize/1024, m.rss/1024)
	return nil
}

// noReserveHuge creates a SHM_HUGETLB|SHM_NORESERVE segment where no huge page is
// free, and touches it: the fault the kernel answers with SIGBUS.
func noReserveHuge(l *lesson.Lesson, huge int) error {
	flg := unix.IPC_CREAT | shmHugeTLB | shmNoReserve | 0o600
	id, err := createSegment(l, ftok.Private, huge, flg)
	if err != nil {
		l.Result("%s", lesson.ErrnoText(err))
		return nil
	}
	l.Result("id %d: created, with no huge page behind it", id)
	b, detach, err := attach(l, id, 0)
	if err != nil {
		return lesson.Failed(fmt.Sprintf("shmat(%d, NULL, 0)", id), err, "")
	}
	l.Result("attached at %#x", shm.Addr(b))
	l.Call("b[0] = 1   (with lesson.RecoverFault, which turns a memory fault into an error)")
	err = lesson.RecoverFault(func() { b[0] = 1 })
	var fault *lesson.FaultError
	switch {
	case errors.As(err, &fault):
		l.Result("fault at %#x, the segment's first byte: the kernel sent SIGBUS", fault.Addr)
		l.Say("There was no huge page to give, so the first touch failed. (Go's runtime calls")
		l.Say("every such fault \"invalid memory address or nil pointer dereference\"; the")
		l.Say("address is what tells.) Without RecoverFault the program would have died here:")
		l.Say("SHM_NORESERVE moves the failure from shmget, where it can be handled, to the")
		l.Say("first touch, where it cannot.")
	case err == nil:
		l.Result("written: a huge page was free after all (HugePages_Free changes as others use them)")
	default:
		return err
	}
	l.Call("shmdt(%#x)", shm.Addr(b))
	if err := detach(); err != nil {
		return lesson.Failed(fmt.Sprintf("shmdt(%#x)", shm.Addr(b)), err, "")
	}
	return removeNow(l, id)
}

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

// bytesString prints a size as a learner reads it: 64 MiB, 25 GiB, 23.5 GiB.
func bytesString(n uint64) string {
	switch {
	case n >= gib && n%gib == 0:
		return fmt.Sprintf("%d GiB", n/gib)
	case n >= gib:
		return fmt.Sprintf("%.1f GiB", float64(n)/gib)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
