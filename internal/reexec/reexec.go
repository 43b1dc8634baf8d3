//go:build linux

package reexec

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// EnvParent is the environment variable through which Command and CommandAs tell
// the child the pid of the process that started it.
const EnvParent = "SHMCOURSE_ROLE_PARENT"

// Command returns a command that runs this program's executable again with args.
// The child inherits the environment, plus EnvParent; standard streams are the
// caller's to set. A caller that sets cmd.Env must keep EnvParent in it.
func Command(args ...string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding my own executable: %w", err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = withParent()
	return cmd, nil
}

// withParent is this process's environment with EnvParent set to its pid.
func withParent() []string {
	env := []string{EnvParent + "=" + strconv.Itoa(os.Getpid())}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, EnvParent+"=") {
			env = append(env, kv)
		}
	}
	return env
}

// FromParent reports whether this process was started by Command or CommandAs of
// the process that is still its parent: EnvParent names getppid(2). A command typed
// in a shell has the shell (or go run) as its parent and no EnvParent, or one naming
// another process, so a role can refuse to run for a person. It is a guard against
// mistakes, not a security boundary: whoever can set the environment and pick the
// parent could still pass it.
func FromParent() bool {
	v, ok := os.LookupEnv(EnvParent)
	return ok && v == strconv.Itoa(os.Getppid())
}

// CommandAs is Command for a child that runs with the given user and group ids,
// which only root may ask for (credentials(7)). The executable that `go run` and
// `go test` build lives in a directory only its owner can enter, so the first call
// copies it to a directory everyone can read; Cleanup removes that copy.
func CommandAs(uid, gid uint32, args ...string) (*exec.Cmd, error) {
	exe, err := sharedExecutable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = withParent()
	cmd.Dir = os.TempDir() // the child may not be allowed into our working directory
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}},
	}
	return cmd, nil
}

// shared is the copy of the executable that CommandAs runs, made on first use and
// removed by Cleanup (after which the next CommandAs makes a new one).
var shared struct {
	mu  sync.Mutex
	dir string
	exe string
}

// sharedExecutable copies this program's executable into a fresh directory with
// mode 0755, unless a copy exists.
func sharedExecutable() (string, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.exe != "" {
		return shared.exe, nil
	}
	exe, dir, err := copyExecutable()
	if err != nil {
		return "", err
	}
	shared.exe, shared.dir = exe, dir
	return exe, nil
}

func copyExecutable() (exe, dir string, err error) {
	self, err := os.Executable()
	if err != nil {
		return "", "", fmt.Errorf("finding my own executable: %w", err)
	}
	dir, err = os.MkdirTemp("", "shm-course-exe-")
	if err != nil {
		return "", "", err
	}
	exe = filepath.Join(dir, filepath.Base(self))
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	if err := copyFile(self, exe, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("copying my executable for another user: %w", err)
	}
	return exe, dir, nil
}

func copyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(to, mode) // umask may have taken bits away
}

// Cleanup removes the copy of the executable that CommandAs made, if any. A later
// CommandAs makes a fresh copy.
func Cleanup() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	shared.dir, shared.exe = "", ""
}

// CanRunAs reports whether CommandAs(uid, gid, ...) can start a process here. Only
// root may start a process as another user, and root of a user namespace (a
// container, or `unshare -r`) only as a user and group that the namespace maps
// (/proc/self/uid_map and gid_map, user_namespaces(7)): elsewhere the exec fails
// with EPERM. Under `unshare -r` only root itself is mapped, so nobody does not exist.
func CanRunAs(uid, gid uint32) bool {
	return os.Geteuid() == 0 && mapped("/proc/self/uid_map", uid) && mapped("/proc/self/gid_map", gid)
}

// mapped reports whether id is in one of the ranges of a uid_map or gid_map file,
// each line "first-id-inside first-id-outside count".
func mapped(mapFile string, id uint32) bool {
	b, err := os.ReadFile(mapFile)
	if err != nil {
		return true // a kernel without user namespaces: every id exists
	}
	for _, line := range strings.Split(string(b), "\n") {
		var inside, outside, count uint64
		if _, err := fmt.Sscan(line, &inside, &outside, &count); err != nil {
			continue
		}
		if uint64(id) >= inside && uint64(id)-inside < count {
			return true
		}
	}
	return false
}

// Nobody returns the user and group ids of the unprivileged user "nobody", from
// /etc/passwd, or 65534 (its usual ids) where that has no such user.
func Nobody() (uid, gid uint32) {
	u, err := user.Lookup("nobody")
	if err != nil {
		return 65534, 65534
	}
	id, err1 := strconv.ParseUint(u.Uid, 10, 32)
	group, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return 65534, 65534
	}
	return uint32(id), uint32(group)
}
