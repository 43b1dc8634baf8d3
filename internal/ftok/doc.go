// Package ftok computes System V IPC keys the way the C library's ftok(3) does.
//
// ftok is a library function, not a system call, and golang.org/x/sys/unix has no
// version of it, so the course writes it here. The formula is glibc's (sysvipc/ftok.c),
// which musl and the BSD libcs share:
//
//	key = (st_ino & 0xffff) | (st_dev & 0xff) << 16 | (proj_id & 0xff) << 24
//
// Because the key is built from the file's inode and device numbers, a Go program and
// a C program that call ftok on the same file with the same id get the same key, and
// so can meet at the same segment.
//
// The code is built on Linux only, like the rest of the course.
package ftok
