//go:build linux

package main

// What the kernel shows about this process and the machine in /proc (proc(5)):
// limits, memory, credentials and mappings. None of it is the lesson; the steps
// read their numbers from here.

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/caps"
)

// readNumber reads a file that holds one unsigned number, such as
// /proc/sys/kernel/shmmax.
func readNumber(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// statusField returns the value of the line "name:\tvalue" of /proc/self/status,
// where the kernel shows this process's credentials and more.
func statusField(name string) (string, error) {
	return field("/proc/self/status", name)
}

// field returns the value of the line "name: value" of a /proc file such as
// /proc/self/status or /proc/meminfo.
func field(path, name string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("no %s line in %s", name, path)
}

// meminfo returns a line of /proc/meminfo in bytes ("MemTotal", "SwapTotal",
// "CommitLimit", "Hugepagesize"; the kernel prints them in kB) or, for a count
// such as "HugePages_Free", the number itself.
func meminfo(name string) (uint64, error) {
	v, err := field("/proc/meminfo", name)
	if err != nil {
		return 0, err
	}
	num, unit, _ := strings.Cut(v, " ")
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/proc/meminfo %s: %q is not a number", name, v)
	}
	if unit == "kB" {
		n *= 1024
	}
	return n, nil
}

// umask reads this process's umask from /proc/self/status (Linux 4.7 and later),
// which, unlike umask(2), does not change it to read it.
func umask() (int, error) {
	v, err := statusField("Umask")
	if err != nil {
		return 0, err
	}
	m, err := strconv.ParseUint(v, 8, 32)
	return int(m), err
}

// hasCapIPCOwner: CAP_IPC_OWNER skips System V permission checks. Root has it unless
// a container dropped it.
func hasCapIPCOwner() bool { return caps.HasOverIPC(unix.CAP_IPC_OWNER) }

// inGroup reports whether gid is this process's effective group or one of its
// supplementary groups, as the kernel's in_group_p checks.
func inGroup(gid int) bool {
	groups, err := os.Getgroups()
	if err != nil {
		groups = nil
	}
	for _, g := range append(groups, os.Getegid()) {
		if h, ok := machineGID(g); ok && h == gid {
			return true
		}
	}
	return false
}

// machineGID is group g of this process's user namespace as the machine (the
// initial namespace) numbers it, through /proc/self/gid_map ("inside outside
// count" per line; user_namespaces(7)): under unshare -r, group 0 inside is your
// own group outside. ok is false for a group the map does not cover.
func machineGID(g int) (int, bool) {
	b, err := os.ReadFile("/proc/self/gid_map")
	if err != nil {
		return g, true // no user namespaces: the ids are the machine's
	}
	for _, line := range strings.Split(string(b), "\n") {
		var inside, outside, count int64
		if _, err := fmt.Sscan(line, &inside, &outside, &count); err == nil && int64(g) >= inside && int64(g)-inside < count {
			return int(outside + int64(g) - inside), true
		}
	}
	return 0, false
}

// mapping is one mapping of this process, from /proc/self/smaps.
type mapping struct {
	line           string // its line as /proc/self/maps prints it
	size           uint64 // bytes of address space
	rss            uint64 // bytes of it in memory now (Rss)
	kernelPageSize uint64 // the page size the kernel maps it with
}

// findMapping returns the mapping of this process that starts at addr. The
// header line of each /proc/self/smaps entry is the mapping's /proc/self/maps line.
func findMapping(addr uintptr) (mapping, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return mapping{}, err
	}
	defer f.Close()
	prefix := fmt.Sprintf("%x-", addr)
	var m mapping
	found := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !found {
			if strings.HasPrefix(line, prefix) {
				if m, err = parseMapsLine(line); err != nil {
					return mapping{}, err
				}
				found = true
			}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.Contains(name, " ") {
			break // the next mapping's header line
		}
		kb, _, _ := strings.Cut(strings.TrimSpace(value), " ")
		n, err := strconv.ParseUint(kb, 10, 64)
		if err != nil {
			continue // VmFlags and the like
		}
		switch name {
		case "Rss":
			m.rss = n * 1024
		case "KernelPageSize":
			m.kernelPageSize = n * 1024
		}
	}
	if err := sc.Err(); err != nil {
		return mapping{}, err
	}
	if !found {
		return mapping{}, fmt.Errorf("no mapping at %#x in /proc/self/smaps", addr)
	}
	return m, nil
}

// parseMapsLine reads the address range of a /proc/self/maps line.
func parseMapsLine(line string) (mapping, error) {
	bounds := strings.SplitN(strings.Fields(line)[0], "-", 2)
	start, err1 := strconv.ParseUint(bounds[0], 16, 64)
	end, err2 := strconv.ParseUint(bounds[1], 16, 64)
	if err1 != nil || err2 != nil {
		return mapping{}, fmt.Errorf("cannot parse %q", line)
	}
	return mapping{line: strings.Join(strings.Fields(line), " "), size: end - start}, nil
}
