//go:build linux

package main

// The system-wide commands IPC_INFO, SHM_INFO and SHM_STAT.

import (
	"github.com/learn-sysv/shm-course/internal/lesson"
	"github.com/learn-sysv/shm-course/internal/procsysv"
)

// limits shows IPC_INFO, SHM_INFO and SHM_STAT next to /proc/sys/kernel.
func (t *tourState) limits() error {
	l := t.l
	l.Step("System-wide: IPC_INFO, SHM_INFO, SHM_STAT (Linux only)")
	l.Call("shmctl(0, IPC_INFO, (struct shmid_ds *)&shminfo)")
	lim, maxIndex, err := ipcInfo()
	if err != nil {
		return lesson.Failed("shmctl(0, IPC_INFO, &shminfo)", err, "")
	}
	l.Result("%d: the highest index in use in the kernel's table of segments", maxIndex)
	for _, row := range []struct {
		field string
		value uint
		file  string
		means string
	}{
		{"shmmax", lim.Shmmax, "shmmax", "bytes, the largest segment"},
		{"shmmin", lim.Shmmin, "", "byte, the smallest segment"},
		{"shmmni", lim.Shmmni, "shmmni", "segments in the system"},
		{"shmseg", lim.Shmseg, "", "segments per process: reported, not enforced"},
		{"shmall", lim.Shmall, "shmall", "pages of shared memory in the system"},
	} {
		proc := "(no file)"
		if row.file != "" {
			proc = "/proc/sys/kernel/" + row.file + " = " + readProcValue(row.file)
		}
		l.Say("%-7s %-21d %-45s %s", row.field, row.value, row.means, proc)
	}
	// SHMMAX and SHMALL in <linux/shm.h>: ULONG_MAX - (1UL << 24). Say so only when
	// the limits have not been changed (sysctl kernel.shmmax, kernel.shmall).
	if def := ^uint(0) - 1<<24; lim.Shmmax == def || lim.Shmall == def {
		l.Say("%d is ULONG_MAX - 2^24, the default since Linux 3.16: in effect, no limit.", def)
	}
	l.Look("ipcs -m -l")

	l.Call("shmctl(0, SHM_INFO, (struct shmid_ds *)&shm_info)")
	use, _, err := shmInfo()
	if err != nil {
		return lesson.Failed("shmctl(0, SHM_INFO, &shm_info)", err, "")
	}
	l.Result("used_ids %d, shm_tot %d pages, shm_rss %d, shm_swp %d", use.UsedIDs, use.ShmTot, use.ShmRSS, use.ShmSwp)
	if list, err := procsysv.ReadShm(); err == nil {
		l.Say("/proc/sysvipc/shm lists %d segment(s) now (ours included)", len(list))
	}
	l.Look("ipcs -m -u")

	l.Say("SHM_STAT takes an index into that table instead of an id and returns the id:")
	index := findIndex(t.id, maxIndex)
	t.index = index
	if index < 0 {
		l.Result("SHM_STAT found no index holding segment %d (it needs read permission)", t.id)
		return nil
	}
	l.Call("shmctl(%d, SHM_STAT, &buf)", index)
	l.Result("%d: our segment", t.id)
	return nil
}
