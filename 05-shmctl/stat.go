//go:build linux

package main

// IPC_STAT and IPC_SET.

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
)

// ipcStat reads the segment's shmid_ds and shows it the way ipcs does.
func (t *tourState) ipcStat() error {
	l := t.l
	l.Step("IPC_STAT: read the segment's struct shmid_ds")
	ds, err := t.stat()
	if err != nil {
		return err
	}
	showStat(l, t.id, &ds)
	l.Look("ipcs -m -i %d", t.id)
	l.Say("bytes is the size asked for (%d), not rounded up. The kernel counts whole pages (%d",
		ds.Segsz, roundToPage(uint64(ds.Segsz)))
	l.Say("bytes) against its limits, but a page takes memory only when first touched: rss is %d.", rss(t.id))
	l.Say("cpid created it and lpid made the last shmat/shmdt: both are this process (pid %d).", os.Getpid())
	l.Say("nattch counts attachments (not processes); times are seconds, 0 prints \"Not set\".")
	showProcLine(l, t.id)
	return nil
}

// stat is IPC_STAT on our segment, narrated.
func (t *tourState) stat() (unix.SysvShmDesc, error) {
	call := fmt.Sprintf("shmctl(%d, IPC_STAT, &buf)", t.id)
	t.l.Call("%s", call)
	ds, err := stat(t.id)
	if err != nil {
		return ds, lesson.Failed(call, err, whyStatFailed(err, t.id))
	}
	t.l.Result("0: buf holds key %v, mode %#o, nattch %d", ftok.Key(ds.Perm.Key), ds.Perm.Mode, ds.Nattch)
	return ds, nil
}

// ipcSet changes the mode, and shows what IPC_SET ignores.
func (t *tourState) ipcSet() error {
	l := t.l
	l.Step("IPC_SET: change the mode from %#o to 0640", segMode)
	before, err := stat(t.id)
	if err != nil {
		return lesson.Failed(fmt.Sprintf("shmctl(%d, IPC_STAT, &buf)", t.id), err, "")
	}
	waitForNextSecond(int64(before.Ctime))
	l.Say("IPC_SET copies only shm_perm.uid, shm_perm.gid and the low 9 bits of shm_perm.mode.")
	l.Say("To prove it, buf also asks for SHM_DEST (01000), shm_segsz 1 and cuid 4242.")
	want := before
	want.Perm.Mode = shmDest | 0o640
	want.Segsz = 1
	want.Perm.Cuid = 4242
	call := fmt.Sprintf("shmctl(%d, IPC_SET, &buf)  /* buf.shm_perm.mode = %#o */", t.id, want.Perm.Mode)
	l.Call("%s", call)
	if _, err := unix.SysvShmCtl(t.id, unix.IPC_SET, &want); err != nil {
		return lesson.Failed(call, err, "")
	}
	l.Result("0")
	after, err := t.stat()
	if err != nil {
		return err
	}
	if after.Perm.Mode&shmDest == 0 {
		l.Say("mode %#o -> %#o: the permission bits changed; the SHM_DEST bit in buf was ignored", before.Perm.Mode, after.Perm.Mode)
	} else {
		l.Say("mode %#o -> %#o: SHM_DEST is set, so another process called IPC_RMID on it meanwhile", before.Perm.Mode, after.Perm.Mode)
	}
	l.Say("bytes %d and cuid %d: buf's %d and %d were ignored", after.Segsz, after.Perm.Cuid, want.Segsz, want.Perm.Cuid)
	l.Say("change_time %s -> %s: IPC_SET updates ctime", ctime(int64(before.Ctime), time.Local), ctime(int64(after.Ctime), time.Local))
	l.Look("ipcs -m -i %d", t.id)
	return nil
}
