//go:build linux

package main

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/06-sync/header"
	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/sem"
)

// endpoint is one side's hold on the shared objects.
type endpoint struct {
	key     ftok.Key
	shmid   int
	seg     []byte
	set     *sem.Set
	hdr     header.Header
	created bool // this process created (and formatted) the objects
	// peerCommand is the command line that starts the peer, for the narration and
	// the error when it does not come; "" when the launcher has started it.
	peerCommand string
}

// meet creates the segment and the semaphore set for key, or opens them if the peer
// was first, and returns once they are ready to use. Stale objects from a crashed
// run are removed and the meeting starts again; objects that are not this lesson's
// are reported with the ipcrm command that removes them.
//
// Both peers usually arrive at the same moment (the launcher starts them together),
// so every decision about a leftover must come out the same in both and must not
// undo the other's work:
//
//   - A segment is removed only by its id, and only once what it records shows that
//     it can never be used again (its creator died before publishing it, or every
//     pid it records is dead). Both peers reach that verdict from the same facts, so
//     both may remove it; the second IPC_RMID is harmless. How many processes are
//     attached says nothing: the two fresh peers are attached too.
//   - A semaphore set is created, and a leftover set under the key removed, only by
//     the process that has just won shmget(IPC_CREAT|IPC_EXCL) for the segment
//     (createSet). The segment under the key acts as a lock: while it exists, nobody
//     else can win, and it loses the key only once its own set is initialised (both
//     sides joined and removed it early), its creator died, or its creator gave up.
//     So an opener never removes a set by key: it might be the new set that the
//     faster peer has just created.
func meet(l narrator, key ftok.Key, t transport, cfg ringConfig, wait time.Duration) (*endpoint, error) {
	deadline := time.Now().Add(wait)
	for attempt := 0; attempt < 5; attempt++ {
		ep, err := createObjects(l, key, t, cfg)
		if errors.Is(err, errPeerFirst) {
			ep, err = openObjects(l, key, t, deadline)
		}
		if errors.Is(err, errStale) {
			continue // the stale objects are gone: try again from the start
		}
		return ep, err
	}
	return nil, fmt.Errorf("key %v: gave up after finding stale objects five times", key)
}

// errStale means meet found and removed objects left by a crashed run.
var errStale = errors.New("stale objects removed")

// errPeerFirst means a segment exists under the key already: open it. Only the
// segment's EEXIST means that; an EEXIST from the semaphore set is another story
// (see createSet).
var errPeerFirst = errors.New("a segment exists under the key")

// createObjects tries to be the creator: IPC_CREAT|IPC_EXCL wins for exactly one
// process. It returns errPeerFirst if the segment exists already.
func createObjects(l narrator, key ftok.Key, t transport, cfg ringConfig) (*endpoint, error) {
	size, values := t.Layout(cfg)
	l.Call("shmget(%v, %d, IPC_CREAT|IPC_EXCL|0600)", key, size)
	ep := &endpoint{key: key, created: true}
	// Made and its removal registered in one step (lesson.Keep): a signal that comes
	// while shmget runs waits for it, then removes what it made.
	err := l.Keep(fmt.Sprintf("remove the segment created under key %v", key), func() (func() error, error) {
		var err error
		ep.shmid, err = unix.SysvShmGet(int(key), size, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
		return ep.removeSegment, err
	})
	if errors.Is(err, unix.EEXIST) {
		l.Result("EEXIST: the peer was first; open its segment instead")
		return nil, errPeerFirst
	}
	if err != nil {
		return nil, lesson.Failed(fmt.Sprintf("shmget(%v, %d, IPC_CREAT|IPC_EXCL|0600)", key, size), err,
			"EINVAL: size above SHMMAX (/proc/sys/kernel/shmmax) - use fewer or smaller slots; ENOSPC: too many segments (SHMMNI) or pages (SHMALL); ENOMEM: no memory")
	}
	l.Result("id %d: this process creates and formats the objects", ep.shmid)
	if err := ep.attach(l); err != nil {
		return nil, err
	}
	if err := ep.createSet(l, values); err != nil {
		return nil, err
	}
	if err := t.Format(ep.seg, cfg); err != nil {
		return nil, err
	}
	ep.hdr.Format(t.Kind(), t.KindVersion(), size)
	ep.hdr.Publish() // last: an opener that sees the magic sees everything above
	l.Say("formatted: %s; magic \"SYNC\" stored last, so an opener never sees half a header", t.Describe(ep.seg))
	return ep, nil
}

func (ep *endpoint) attach(l narrator) error {
	seg, err := unix.SysvShmAttach(ep.shmid, 0, 0)
	if err != nil {
		return lesson.Failed(fmt.Sprintf("shmat(%d, NULL, 0)", ep.shmid), err, "EACCES: the segment's mode does not let this user read and write it; EIDRM/EINVAL: it was removed meanwhile")
	}
	ep.seg = seg
	ep.hdr = header.Of(seg)
	// Detached when the program returns, not on Ctrl-C: the stream may be reading
	// the segment at that moment, and the exit detaches it anyway.
	l.CleanupOnReturn(fmt.Sprintf("detach segment %d", ep.shmid), func() error { return unix.SysvShmDetach(seg) })
	return nil
}

// createSet creates the semaphore set under the same key. Only the creator of the
// segment calls it (see meet), so a set already under the key was left by a crashed
// run, or belongs to a run still going whose segment was removed early:
// removeStaleSet tells which.
func (ep *endpoint) createSet(l narrator, values []int) error {
	for attempt := 0; ; attempt++ {
		l.Call("semget(%v, %d, IPC_CREAT|IPC_EXCL|0600), then semctl SETVAL %v and one semop so sem_otime != 0", ep.key, len(values), values)
		err := l.Keep(fmt.Sprintf("remove the semaphore set created under key %v", ep.key), func() (func() error, error) {
			var err error
			ep.set, err = sem.Create(ep.key, 0o600, values...)
			return ep.removeSet, err
		})
		if err == nil {
			l.Result("semaphore set id %d", ep.set.ID())
			l.Look("ipcs -m -s   # both objects, under key %v", ep.key)
			return nil
		}
		if !errors.Is(err, unix.EEXIST) || attempt > 0 {
			return err // it names the call that failed and the cause of its errno
		}
		if err := removeStaleSet(l, ep.key, len(values)); err != nil {
			return err
		}
	}
}

// removeStaleSet looks at the set that holds key. If nobody who touched it is
// alive, it is a crashed run's leftover: remove it. Otherwise report. A set whose
// every last pid is 0 was never initialised (sem.Create's SETVAL records its
// caller): its creator died, since the only process that could be initialising a
// set under this key now is this one, which holds the key's segment.
func removeStaleSet(l narrator, key ftok.Key, nsems int) error {
	id, _, errno := unix.Syscall(unix.SYS_SEMGET, uintptr(key), 0, 0)
	if errno != 0 {
		return nil // gone meanwhile: just try again
	}
	set := sem.FromID(int(id))
	info, err := set.Stat()
	if errors.Is(err, unix.EACCES) {
		return keyTakenBySet(key, fmt.Sprintf("semctl(%d, 0, IPC_STAT)", id))
	}
	if err != nil {
		return nil // gone meanwhile: just try again
	}
	if info.NSems != nsems {
		return fmt.Errorf("key %v holds semaphore set %d with %d semaphores, not this lesson's %d: it belongs to another program; remove it with 'ipcrm -s %d' or use another -key", key, id, info.NSems, nsems, id)
	}
	for num := 0; num < nsems; num++ {
		if pid, err := set.LastPid(num); err == nil && header.Alive(pid) {
			return fmt.Errorf("key %v is taken: semaphore set %d under it is in use by running pid %d, most likely another pair of this lesson (a pair that has met keeps its set under the key, its segment no longer); wait for it to finish, or give both sides another -key", key, id, pid)
		}
	}
	l.Say("semaphore set %d under key %v belongs to no segment and every pid that used it is gone: a crashed run's leftover; removing it", id, key)
	return set.Remove()
}

// openObjects opens the segment the peer created. It waits (up to deadline) for
// the creator to publish the header, checks it, and detects stale segments.
func openObjects(l narrator, key ftok.Key, t transport, deadline time.Time) (*endpoint, error) {
	l.Call("shmget(%v, 0, 0)", key)
	id, err := unix.SysvShmGet(int(key), 0, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, errStale // removed between our two shmgets: start again
	}
	if err != nil {
		return nil, lesson.Failed(fmt.Sprintf("shmget(%v, 0, 0)", key), err, whyFor(err, unix.EACCES, "the segment belongs to another user and its mode does not let you in"))
	}
	l.Result("id %d", id)
	ep := &endpoint{key: key, shmid: id}
	if err := ep.attach(l); err != nil {
		if errors.Is(err, unix.EACCES) {
			return nil, keyTakenBySegment(key, id, fmt.Sprintf("shmat(%d, NULL, 0)", id))
		}
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EIDRM) {
			l.Say("shmat(%d): %v: the segment was removed since our shmget (its creator gave up); starting again", id, lesson.ErrnoText(err))
			return nil, errStale
		}
		return nil, err
	}
	if err := ep.waitPublished(l, deadline); err != nil {
		return nil, err
	}
	// Stale before the kind check: a dead run of the other transport (or of an
	// older layout) is a leftover all the same. The pids are at their documented
	// offsets in any segment with this lesson's magic and header version.
	if ep.hdr.Published() && ep.hdr.Version() == header.Version && ep.stale() {
		// Only the segment: its set may already have been replaced by the faster
		// peer's new one (see meet). Whoever creates the next segment removes it.
		l.Say("segment %d is a crashed run's leftover: creator pid %d, producer pid %d and consumer pid %d are all gone; removing it (its semaphore set goes when the next segment is created)",
			id, ep.hdr.CreatorPid(), ep.hdr.Pid(header.Producer), ep.hdr.Pid(header.Consumer))
		_ = ep.removeSegment()
		return nil, errStale
	}
	if err := ep.hdr.Check(t.Kind(), t.KindVersion(), len(ep.seg)); err != nil {
		if errors.Is(err, header.ErrNotOurs) {
			return nil, fmt.Errorf("key %v: segment %d: %v; it is not this lesson's: remove it with 'ipcrm -m %d' (and 'ipcrm -S %v' if a semaphore set has the key) or use another -key", key, id, err, id, key)
		}
		return nil, err
	}
	set, err := ep.awaitSet(l, deadline)
	if err != nil {
		return nil, err
	}
	ep.set = set
	// Not ours to remove yet (awaitPeer makes it ours), unless every process the
	// header records is dead when this one ends: its creator died while this one
	// waited, and nobody else would ever remove them.
	l.Cleanup(fmt.Sprintf("remove segment %d and semaphore set %d if everyone who used them is gone", id, set.ID()), func() error {
		if !ep.stale() {
			return nil
		}
		return errors.Join(ep.removeSegment(), ep.removeSet())
	})
	return ep, nil
}

// waitPublished waits for the magic. A creator that died before publishing leaves
// a segment that will never be ready: that is stale, however many processes are
// attached (only its creator, shm_cpid, ever publishes a segment; a peer that
// arrives at the same moment is attached too, and removes it as well).
func (ep *endpoint) waitPublished(l narrator, deadline time.Time) error {
	for !ep.hdr.Published() {
		if ep.hdr.MagicValue() != 0 {
			return nil // some other magic: not being initialised, foreign; Check says so
		}
		var d unix.SysvShmDesc
		_, err := unix.SysvShmCtl(ep.shmid, unix.IPC_STAT, &d)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EIDRM) {
			l.Say("segment %d was removed before it was initialised (its creator gave up); starting again", ep.shmid)
			return errStale
		}
		if err == nil && !header.Alive(int(d.Cpid)) {
			l.Say("segment %d was never initialised and its creator (pid %d) is gone: a leftover of a run that crashed or gave up; removing it", ep.shmid, d.Cpid)
			_ = ep.removeSegment()
			return errStale
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("segment %d under key %v was not initialised in time (magic %#08x)", ep.shmid, ep.key, ep.hdr.MagicValue())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// awaitSet opens the semaphore set under the key once its creator has initialised
// it: sem_otime != 0, which only a semop makes true (semget and SETVAL leave it 0).
// The creator of the segment initialises the set before it stores the magic, so
// after waitPublished the set is normally ready at once. The opener waits all the
// same, as the classic protocol has it, for as long as someone may still initialise
// it: until the deadline, while the segment's creator is alive and its segment is
// not marked for removal. Either of those means the creator gave up or died: its
// set will never be ready, and the meeting starts again.
func (ep *endpoint) awaitSet(l narrator, deadline time.Time) (*sem.Set, error) {
	l.Call("semget(%v, 0, 0), then semctl(IPC_STAT) until sem_otime != 0", ep.key)
	for {
		set, err := sem.Open(ep.key, 0) // one look: ErrTimeout if no set, or sem_otime 0
		if err == nil {
			l.Result("semaphore set id %d, initialised (sem_otime %v)", set.ID(), otimeOf(set))
			return set, nil
		}
		var semErr *sem.Error
		if errors.Is(err, unix.EACCES) && errors.As(err, &semErr) {
			return nil, keyTakenBySet(ep.key, semErr.Call)
		}
		if !errors.Is(err, sem.ErrTimeout) {
			return nil, err // it names the call and the cause of its errno
		}
		var d unix.SysvShmDesc
		if _, err := unix.SysvShmCtl(ep.shmid, unix.IPC_STAT, &d); err != nil || d.Perm.Mode&shmDest != 0 {
			l.Say("no initialised semaphore set under key %v, and segment %d is marked for removal: its creator gave up; starting again", ep.key, ep.shmid)
			return nil, errStale
		}
		if pid := ep.hdr.CreatorPid(); !header.Alive(pid) {
			l.Say("no initialised semaphore set under key %v, and the segment's creator (pid %d) is gone: nobody will initialise one; removing segment %d and starting again", ep.key, pid, ep.shmid)
			_ = ep.removeSegment()
			return nil, errStale
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("key %v: segment %d is initialised, but no semaphore set under the key has sem_otime != 0 in time: its creator (pid %d, running) must initialise the set (SETVAL, then one semop) before it stores the magic", ep.key, ep.shmid, ep.hdr.CreatorPid())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// shmDest is the SHM_DEST bit of shm_perm.mode (<linux/shm.h>): IPC_RMID was
// called, and the segment goes at its last detach.
const shmDest = 0o1000

func otimeOf(set *sem.Set) string {
	info, err := set.Stat()
	if err != nil {
		return "?"
	}
	return info.Otime.Format("15:04:05")
}

// stale reports whether every process the header records (creator, producer,
// consumer) is dead. Then the ring holds a dead run's indices and semaphore values,
// and no live process can be using it: a process is recorded as the creator when it
// formats the segment, or by Claim, which comes only after this check has found
// someone alive. So shm_nattch does not matter: other processes attached are fresh
// peers that have not claimed yet, and they reach the same verdict from the same pids.
func (ep *endpoint) stale() bool {
	for _, pid := range []int{ep.hdr.CreatorPid(), ep.hdr.Pid(header.Producer), ep.hdr.Pid(header.Consumer)} {
		if header.Alive(pid) {
			return false
		}
	}
	return true
}

// awaitPeer claims role in the header and waits for the peer to claim its own. A
// producer passes its largest message, which it stores right after its claim has
// succeeded and never before: a producer that is refused must leave the running
// producer's value alone (a consumer passes 0).
func (ep *endpoint) awaitPeer(l narrator, role header.Role, maxMessage int, wait time.Duration) error {
	l.Call("compare-and-swap the %v pid at offset %d of the header from 0 (or a dead process's pid) to %d", role, pidOffsetOf(role), pidOf())
	replaced, err := ep.hdr.ClaimOver(role)
	if err != nil {
		return err // not ours to remove: the process holding the role uses them
	}
	if replaced != 0 {
		l.Result("the %v role is ours; it replaced pid %d, which is gone", role, replaced)
	} else {
		l.Result("the %v role is ours", role)
	}
	if maxMessage > 0 {
		l.Call("store max message %d at offset %d of the header, now that the role is ours", maxMessage, header.OffMaxMessage)
		ep.hdr.SetMaxMessage(maxMessage)
	}
	if !ep.created {
		// Now a party to the stream, the opener removes the objects too when it
		// ends, however it ends: whichever side is last cleans up.
		l.Cleanup(fmt.Sprintf("remove segment %d", ep.shmid), ep.removeSegment)
		l.Cleanup(fmt.Sprintf("remove semaphore set %d", ep.set.ID()), ep.removeSet)
	}
	peer := role.Peer()
	if pid := ep.hdr.Pid(peer); pid != 0 {
		l.Result("the %v (pid %d) is already here", peer, pid)
		return nil
	}
	if ep.peerCommand != "" {
		l.Say("waiting up to %v for the %v: start it in another terminal with", wait, peer)
		l.Look("%s", ep.peerCommand)
	} else {
		l.Say("waiting up to %v for the %v, which the launcher has started too", wait, peer)
	}
	deadline := time.Now().Add(wait)
	for ep.hdr.Pid(peer) == 0 {
		if err := ep.creatorGone(peer); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			if ep.peerCommand == "" {
				return fmt.Errorf("no %v came within %v (key %v), although the launcher started one; give more time with -wait", peer, wait, ep.key)
			}
			return fmt.Errorf("no %v came within %v (key %v); start one with '%s', or give more time with -wait", peer, wait, ep.key, ep.peerCommand)
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.Result("the %v (pid %d) arrived", peer, ep.hdr.Pid(peer))
	return nil
}

// awaitMaxMessage is the consumer's last step of the meeting. The producer stores
// its max message right after its claim, so for a moment after its pid appears the
// field may still be 0: wait for it, noticing a producer that dies first.
func (ep *endpoint) awaitMaxMessage(l narrator, wait time.Duration) (int, error) {
	l.Call("load max message at offset %d of the header (the producer stores it right after its claim: wait while it is 0)", header.OffMaxMessage)
	deadline := time.Now().Add(wait)
	for {
		gone := ep.hdr.PeerGone(header.Producer) // liveness first, then the condition
		if n := ep.hdr.MaxMessage(); n != 0 {
			l.Result("%d bytes: the largest message the producer will send", n)
			return n, nil
		}
		if gone != nil {
			return 0, fmt.Errorf("waiting for the producer's max message: %w", gone)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the producer (pid %d) claimed its role but stored no max message at offset %d of the header within %v", ep.hdr.Pid(header.Producer), header.OffMaxMessage, wait)
		}
		time.Sleep(time.Millisecond)
	}
}

// creatorGone: an opener waits for the process that created the segment, which
// has not claimed its role yet. Its pid is in the header from the start, so its
// death is noticed at once, not after -wait.
func (ep *endpoint) creatorGone(peer header.Role) error {
	if ep.created || ep.hdr.Pid(peer) != 0 {
		return nil
	}
	if pid := ep.hdr.CreatorPid(); !header.Alive(pid) {
		return &creatorGoneError{pid: pid, role: peer}
	}
	return nil
}

// creatorGoneError: the process that created the segment, the peer to be, died
// before it claimed its role.
type creatorGoneError struct {
	pid  int
	role header.Role
}

func (e *creatorGoneError) Error() string {
	return fmt.Sprintf("the process that created the segment (pid %d) is gone before it claimed the %v role: it exited or was killed while starting; start the %v again", e.pid, e.role, e.role)
}

// removeEarly marks the segment for removal as soon as both sides are attached:
// it lives on while attached and vanishes at the last detach, even after SIGKILL.
func (ep *endpoint) removeEarly(l narrator) {
	l.Call("shmctl(%d, IPC_RMID, NULL)   # both sides attached: remove early", ep.shmid)
	if err := ep.removeSegment(); err != nil {
		l.Result("%v (the peer did it first)", lesson.ErrnoText(err))
		return
	}
	l.Result("marked for removal: it goes away when the last process detaches, however it ends")
}

func (ep *endpoint) removeSegment() error {
	_, err := unix.SysvShmCtl(ep.shmid, unix.IPC_RMID, nil)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EIDRM) {
		return nil // already removed (by the peer): fine
	}
	return err
}

// setRemoved reports whether the semaphore set this side opened or created is
// gone: someone (the peer's cleanup) removed it. ep may be nil.
func (ep *endpoint) setRemoved() bool {
	if ep == nil || ep.set == nil {
		return false
	}
	_, err := ep.set.Stat()
	return errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EIDRM)
}

func (ep *endpoint) removeSet() error {
	if ep.set == nil {
		return nil
	}
	err := ep.set.Remove()
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EIDRM) {
		return nil
	}
	return err
}

// narrator is what meet needs of a *lesson.Lesson: narration and cleanups. The
// benchmark passes a quiet one.
type narrator interface {
	Call(format string, args ...any)
	Result(format string, args ...any)
	Say(format string, args ...any)
	Look(command string, args ...any)
	Cleanup(what string, fn func() error)
	Keep(what string, create func() (undo func() error, err error)) error
	CleanupOnReturn(what string, fn func() error)
}
