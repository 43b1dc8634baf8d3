/* fast_producer.c: the 06-sync producer in C, fast transport.
 * usage: fast_producer KEY MESSAGES SIZE MIXED */
#include "fast.h"

static uint64_t tail, want;

static int space_ready(void) { return want - ld64(OFF_HEAD) <= capacity; }
static int all_taken(void) { return ld64(OFF_HEAD) == tail; }

/* reserve waits until everything before stream position upto fits in the ring. */
static void reserve(uint64_t upto) {
	want = upto;
	if (!space_ready()) fast_wait(space_ready, OFF_PRODUCER_WAIT, SEM_SPACE);
}

static void copy_in(uint64_t pos, const unsigned char *p, uint64_t n) {
	while (n > 0) {
		uint64_t off = pos & mask, k = n < capacity - off ? n : capacity - off;
		memcpy(seg + DATA_OFFSET + off, p, k);
		pos += k, p += k, n -= k;
	}
}

static void publish(uint64_t t) {
	tail = t;
	st64(OFF_TAIL, t); /* after the data: the consumer reads tail, then the data */
	fast_wake(OFF_CONSUMER_WAIT, SEM_DATA);
}

static void send_record(const unsigned char *msg, uint32_t len, uint32_t tag) {
	uint64_t start = tail, total = record_size(len);
	unsigned char header[8];
	memcpy(header, &len, 4);
	memcpy(header + 4, &tag, 4);
	if (total <= capacity) { /* the whole record, one publish */
		reserve(start + total);
		copy_in(start, header, 8);
		copy_in(start + 8, msg, len);
		publish(start + total);
		return;
	}
	reserve(start + 8); /* larger than the ring: pieces of half of it */
	copy_in(start, header, 8);
	for (uint64_t pos = start + 8, end = start + total; pos < end;) {
		uint64_t n = end - pos < capacity / 2 ? end - pos : capacity / 2;
		reserve(pos + n);
		uint64_t off = pos - start - 8;
		if (off < len) copy_in(pos, msg + off, n < len - off ? n : len - off);
		pos += n;
		publish(pos);
	}
}

static void send_message(const unsigned char *msg, size_t len) { send_record(msg, (uint32_t)len, TAG_MESSAGE); }

int main(int argc, char **argv) {
	if (argc != 5) { fprintf(stderr, "usage: fast_producer KEY MESSAGES SIZE MIXED\n"); return 2; }
	key_t key = (key_t)strtoul(argv[1], NULL, 0);
	uint64_t messages = strtoull(argv[2], NULL, 0);
	size_t size = strtoul(argv[3], NULL, 0);
	int mixed = atoi(argv[4]);
	open_ring(key, OFF_PRODUCER_PID, OFF_CONSUMER_PID, size < 28 ? 28 : size); /* room for the trailer */
	fast_init();
	tail = ld64(OFF_TAIL);
	struct tally sent = produce_messages(messages, size, mixed, send_message);
	send_record(NULL, 0, TAG_END);
	if (!all_taken()) fast_wait(all_taken, OFF_PRODUCER_WAIT, SEM_SPACE); /* the consumer took it all */
	semctl(semid, 0, IPC_RMID); /* finished: remove the set (the consumer may have already) */
	print_sent(sent);
	return 0;
}
