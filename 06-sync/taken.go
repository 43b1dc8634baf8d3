//go:build linux

package main

import (
	"fmt"
	"os"
	"os/user"

	"github.com/learn-sysv/shm-course/internal/ftok"
	"github.com/learn-sysv/shm-course/internal/procsysv"
)

// An object under the key whose mode does not let this user read and write it
// (EACCES) belongs, as a rule, to another user's pair of this lesson: the default
// key ftok("/tmp", 6) is the same for everyone on the machine. Waiting for it is
// pointless, since this user can never join that pair; the way on is another key.
// These errors say so at once, naming the owner from /proc/sysvipc, which lists
// every object to every user, whatever its mode.

// keyTakenBySegment is the answer when segment id under key may not be used.
func keyTakenBySegment(key ftok.Key, id int, call string) error {
	s, ok, _ := procsysv.FindShm(id)
	return keyTaken(key, "segment", id, ok, s.UID, s.Mode, call,
		"another user's producer or consumer of this lesson, waiting for its peer")
}

// keyTakenBySet is the answer when the semaphore set under key may not be used.
func keyTakenBySet(key ftok.Key, call string) error {
	var set procsysv.Sem
	found := false
	if sets, err := procsysv.ReadSem(); err == nil {
		for _, s := range sets {
			if s.Key == key {
				set, found = s, true
			}
		}
	}
	return keyTaken(key, "semaphore set", set.ID, found, set.UID, set.Mode, call,
		"another user's pair of this lesson that has met (a pair that has met keeps its set under the key, its segment no longer)")
}

// keyTaken writes the one line: the key, the object and its owner, why this user
// may not use it, and what to do.
func keyTaken(key ftok.Key, what string, id int, found bool, uid, mode uint32, call, likely string) error {
	me := uint32(os.Geteuid())
	object := fmt.Sprintf("the %s under it", what) // gone meanwhile: no more to say
	guess := ""
	if found {
		object = fmt.Sprintf("%s %d under it belongs to %s (uid %d, mode %#o)", what, id, userName(uid), uid, mode&0o777)
		if uid != me {
			guess = "most likely " + likely + "; "
		}
	}
	return fmt.Errorf("key %v is taken: %s, and its mode does not let you (%s, uid %d) use it (%s: EACCES); %sgive both sides another -key",
		key, object, userName(me), me, call, guess)
}

// userName is uid's login name.
func userName(uid uint32) string {
	if u, err := user.LookupId(fmt.Sprint(uid)); err == nil {
		return u.Username
	}
	return "a user with no login name"
}
