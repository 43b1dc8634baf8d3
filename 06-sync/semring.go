//go:build linux

package main

import (
	"github.com/learn-sysv/shm-course/06-sync/header"
	"github.com/learn-sysv/shm-course/06-sync/semring"
	"github.com/learn-sysv/shm-course/internal/sem"
)

// semringTransport plugs package semring into the transport table.
type semringTransport struct{}

func (semringTransport) Kind() uint32        { return header.KindSemring }
func (semringTransport) KindVersion() uint32 { return semring.KindVersion }

func (semringTransport) Layout(cfg ringConfig) (int, []int) {
	return semring.Layout(cfg.Slots, cfg.SlotSize)
}

func (semringTransport) Format(seg []byte, cfg ringConfig) error {
	return semring.Format(seg, cfg.Slots, cfg.SlotSize)
}

func (semringTransport) Describe(seg []byte) string { return semring.Describe(seg) }

func (semringTransport) Sender(seg []byte, set *sem.Set) (sender, error) {
	return semring.NewSender(seg, set)
}

func (semringTransport) Receiver(seg []byte, set *sem.Set) (receiver, error) {
	return semring.NewReceiver(seg, set)
}
