//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/lesson"
)

// statFile returns the inode and device numbers of the file path leads to,
// following symbolic links as ftok's stat(2) does. Every file number this lesson
// prints comes from here.
func statFile(path string) (ino, dev uint64, err error) {
	info, err := os.Stat(path) // an *fs.PathError wrapping the errno on failure
	if err != nil {
		return 0, 0, err
	}
	st := info.Sys().(*syscall.Stat_t)
	return uint64(st.Ino), uint64(st.Dev), nil // their widths differ between architectures
}

// keyOf runs Ftok and returns the key with the file's inode number, for tables.
func keyOf(path string, projID int) (ftok.Key, uint64, error) {
	key, err := ftok.Ftok(path, projID)
	if err != nil {
		return 0, 0, err
	}
	ino, _, err := statFile(path)
	return key, ino, err
}

// devString prints a device number as stat -c %D does (hex) with its major and
// minor numbers.
func devString(dev uint64) string {
	return fmt.Sprintf("%#x (major %d, minor %d)", dev, unix.Major(dev), unix.Minor(dev))
}

// ftokCall is the call as C spells it, for narration and errors. A long path is
// shortened (lesson.Quote).
func ftokCall(path string, projID int) string {
	return fmt.Sprintf("ftok(%s, %s)", lesson.Quote(path), describeID(projID))
}

// ftokFailed is the error of ftok(path, projID) failing with err, explained.
func ftokFailed(path string, projID int, err error) error {
	return lesson.Failed(ftokCall(path, projID), err, whyStatFailed(path, err))
}

// whyStatFailed explains the errors stat(2) gives ftok.
func whyStatFailed(path string, err error) string {
	switch {
	case errors.Is(err, syscall.ENOENT):
		return "the file does not exist; ftok needs an existing file, since the key is made from its inode and device numbers"
	case errors.Is(err, syscall.EACCES):
		return "a directory on the way to the file may not be searched (x) by this user, so stat(2) cannot reach it"
	case errors.Is(err, syscall.ENOTDIR):
		return "a part of the path before the last is not a directory"
	case errors.Is(err, syscall.ELOOP):
		return "too many symbolic links while resolving the path"
	case errors.Is(err, syscall.ENAMETOOLONG):
		return fmt.Sprintf("the path (%d bytes) is longer than PATH_MAX (4096 bytes), or one name in it is longer than NAME_MAX (255)", len(path))
	}
	return "stat(2) failed, and ftok fails with it"
}
