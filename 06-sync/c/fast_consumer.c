/* fast_consumer.c: the 06-sync consumer in C, fast transport. usage: fast_consumer KEY */
#include "fast.h"

static uint64_t head, want;

static int data_ready(void) { return ld64(OFF_TAIL) >= want; }

/* await_data waits until the stream holds everything before position upto. */
static void await_data(uint64_t upto) {
	want = upto;
	if (!data_ready()) fast_wait(data_ready, OFF_CONSUMER_WAIT, SEM_DATA);
}

static void copy_out(unsigned char *p, uint64_t pos, uint64_t n) {
	while (n > 0) {
		uint64_t off = pos & mask, k = n < capacity - off ? n : capacity - off;
		memcpy(p, seg + DATA_OFFSET + off, k);
		pos += k, p += k, n -= k;
	}
}

/* release publishes the head after every record (or piece), as the Go side does. */
static void release(uint64_t h) {
	head = h;
	st64(OFF_HEAD, h); /* after reading: the producer may now overwrite */
	fast_wake(OFF_PRODUCER_WAIT, SEM_SPACE);
}

/* receive copies the next message into buf; returns its length, or -1 at end. */
static long receive(unsigned char *buf, size_t cap) {
	uint64_t start = head;
	await_data(start + 8);
	uint32_t len, tag;
	copy_out((unsigned char *)&len, start, 4);
	copy_out((unsigned char *)&tag, start + 4, 4);
	if (tag == TAG_END) {
		release(start + 8);
		return -1;
	}
	if (tag != TAG_MESSAGE) { fprintf(stderr, "corrupt ring: tag %u\n", tag); exit(1); }
	if (len > cap) { fprintf(stderr, "message too long\n"); exit(1); }
	uint64_t total = record_size(len);
	if (total <= capacity) { /* published whole: it is all there */
		copy_out(buf, start + 8, len);
		release(start + total);
		return (long)len;
	}
	for (uint64_t pos = start + 8, end = start + total; pos < end;) {
		await_data(pos + 1);
		uint64_t t = ld64(OFF_TAIL), upto = t < end ? t : end, off = pos - start - 8;
		if (off < len) copy_out(buf + off, pos, upto - pos < len - off ? upto - pos : len - off);
		pos = upto;
		release(pos);
	}
	return (long)len;
}

int main(int argc, char **argv) {
	if (argc != 2) { fprintf(stderr, "usage: fast_consumer KEY\n"); return 2; }
	key_t key = (key_t)strtoul(argv[1], NULL, 0);
	open_ring(key, OFF_CONSUMER_PID, OFF_PRODUCER_PID, 0);
	fast_init();
	head = ld64(OFF_HEAD);
	return consume_messages(receive);
}
