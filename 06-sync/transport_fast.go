//go:build linux

package main

import (
	"github.com/learn-sysv/shm-course/06-sync/fastring"
	"github.com/learn-sysv/shm-course/06-sync/header"
	"github.com/learn-sysv/shm-course/internal/sem"
)

// fastTransport plugs package fastring into the transport table: a byte-stream ring
// synchronised by atomic indices, which sleeps on a semaphore only when it is empty
// (the consumer) or full (the producer). Its data area is -slots × -slotsize bytes,
// rounded up to a power of two.
type fastTransport struct{}

func (fastTransport) Kind() uint32        { return header.KindFast }
func (fastTransport) KindVersion() uint32 { return fastring.KindVersion }

func (fastTransport) Layout(cfg ringConfig) (int, []int) {
	return fastring.Layout(cfg.Slots * cfg.SlotSize)
}

func (fastTransport) Format(seg []byte, cfg ringConfig) error {
	return fastring.Format(seg, cfg.Slots*cfg.SlotSize)
}

func (fastTransport) Describe(seg []byte) string { return fastring.Describe(seg) }

func (fastTransport) Sender(seg []byte, set *sem.Set) (sender, error) {
	return fastring.NewSender(seg, set)
}

func (fastTransport) Receiver(seg []byte, set *sem.Set) (receiver, error) {
	return fastring.NewReceiver(seg, set)
}
