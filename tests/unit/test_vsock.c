// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio/vsock.c driven as Linux's virtio_transport drives it, without
 * KVM: a fake VM with guest memory, the rx, tx and event queues laid out
 * by hand in it, packets written into tx buffers and read back from rx
 * buffers.  The host side is real: the device's Unix socket in a temporary
 * directory, clients that connect to it and write "CONNECT <port>\n", and
 * listeners at "<path>_<port>" that the device's connector process
 * connects to.  The device's thread is not started: the test calls
 * virtio_vsock_poll() (what the thread does when woken) with the device
 * lock held, so every step is deterministic; one test runs the thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "virtio/mmio.h"
#include "virtio/vsock.h"
#include "virtio/worker.h"
#include "vm/machine.h"

#define MiB (1ULL << 20)
#define MEM_SIZE (16 * MiB)
#define QSIZE 64
#define NQ 3
/* Queue q's rings: descriptors (1 KiB), avail (134 bytes), used (518 bytes). */
#define DESC_GPA(q)  (0x10000 + (uint64_t)(q) * 0x1000)
#define AVAIL_GPA(q) (DESC_GPA(q) + 0x400)
#define USED_GPA(q)  (DESC_GPA(q) + 0x800)
/* Each descriptor of each queue owns a buffer; larger ones come from the heap. */
#define SLOT 8192
#define SLOT_GPA(q, d) (0x100000 + ((uint64_t)(q) * QSIZE + (d)) * SLOT)
#define HEAP_GPA (4 * MiB)

#define GUEST_CID 3
#define RXBUF (4096 + VIRTIO_VSOCK_HDR_SIZE) /* what Linux 6.x posts */
#define FIRST_PORT VIRTIO_VSOCK_FIRST_HOST_PORT

#define assert_contains(hay, needle)                                                   \
	do {                                                                           \
		if (!strstr((hay), (needle)))                                          \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));   \
	} while (0)

struct fx {
	struct machine vm;
	struct virtio_device *dev;
	char dir[64], path[96];
	uint64_t heap;
	uint16_t avail_idx[NQ];
	uint16_t next_desc[NQ];
	uint16_t used_seen[NQ];
	unsigned outstanding[NQ];   /* descriptors the device holds or may take */
	uint32_t guest_buf_alloc;   /* what the test's "driver" advertises */
	uint32_t guest_fwd_cnt;
};

/* One packet the device put into an rx buffer. */
struct rxp {
	struct virtio_vsock_hdr h;
	uint32_t used_len;
	uint32_t data_len;
	uint8_t data[SLOT];
};

static void *gptr(struct fx *f, uint64_t gpa, uint64_t len)
{
	void *p = guest_ptr(&f->vm.mem, gpa, len);
	assert_non_null(p);
	return p;
}

static uint64_t galloc(struct fx *f, uint32_t len)
{
	uint64_t gpa = f->heap;
	f->heap = (f->heap + len + 15) & ~15ULL;
	assert_true(f->heap < MEM_SIZE);
	return gpa;
}

/* ---- the fixture ------------------------------------------------------------------------- */

static void setup_queues(struct fx *f)
{
	struct virtio_device *dev = f->dev;

	memset(f->avail_idx, 0, sizeof(f->avail_idx));
	memset(f->next_desc, 0, sizeof(f->next_desc));
	memset(f->used_seen, 0, sizeof(f->used_seen));
	memset(f->outstanding, 0, sizeof(f->outstanding));
	memset(gptr(f, DESC_GPA(0), NQ * 0x1000), 0, NQ * 0x1000);
	dev->driver_features = 1ULL << VIRTIO_F_VERSION_1;
	dev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		      VIRTIO_STATUS_DRIVER_OK;
	for (unsigned q = 0; q < NQ; q++) {
		struct virtq *vq = &dev->vq[q];
		virtq_reset(vq);
		vq->size = QSIZE;
		vq->desc_gpa = DESC_GPA(q);
		vq->avail_gpa = AVAIL_GPA(q);
		vq->used_gpa = USED_GPA(q);
		assert_int_equal(virtq_start(vq, &f->vm.mem, false, false), 0);
		vq->ready = true;
	}
}

static struct fx *fx_new(void)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct ember_err err = { "" };
	assert_non_null(f);

	snprintf(f->dir, sizeof(f->dir), "/tmp/ember-vsock-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/v.sock", f->dir);
	struct guest_region layout = { .gpa = 0, .size = MEM_SIZE };
	if (guest_memory_create(&f->vm.mem, &layout, 1, &err))
		fail_msg("guest_memory_create: %s", err.msg);
	if (virtio_vsock_new(f->path, GUEST_CID, &f->dev, &err))
		fail_msg("virtio_vsock_new: %s", err.msg);

	/* What virtio_device_attach and a driver's setup would have done. */
	struct virtio_device *dev = f->dev;
	dev->machine = &f->vm;
	pthread_mutex_init(&dev->lock, NULL);
	dev->irq_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		dev->kick_fd[q] = -1;
	setup_queues(f);
	f->heap = HEAP_GPA;
	f->guest_buf_alloc = 256 * 1024;
	return f;
}

static void fx_free(struct fx *f)
{
	struct stat st;

	assert_int_equal(stat(f->path, &st), 0); /* the socket is there until the device goes */
	f->dev->ops->destroy(f->dev); /* stops its thread, if it ran, and frees it */
	/* The connector removed it as it ended. */
	assert_int_equal(stat(f->path, &st), -1);
	assert_int_equal(errno, ENOENT);
	guest_memory_destroy(&f->vm.mem);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
}

static void poll_dev(struct fx *f)
{
	pthread_mutex_lock(&f->dev->lock);
	virtio_vsock_poll(f->dev);
	pthread_mutex_unlock(&f->dev->lock);
}

/* A few rounds: a socket that became ready during one is seen by the next. */
static void pump(struct fx *f)
{
	for (int i = 0; i < 4; i++)
		poll_dev(f);
}

static unsigned nr_conns(struct fx *f)
{
	pthread_mutex_lock(&f->dev->lock);
	unsigned n = virtio_vsock_nr_conns(f->dev);
	pthread_mutex_unlock(&f->dev->lock);
	return n;
}

static bool needs_reset(struct fx *f)
{
	return f->dev->status & VIRTIO_STATUS_NEEDS_RESET;
}

/* ---- the "driver" ------------------------------------------------------------------------ */

static uint16_t take_desc(struct fx *f, unsigned q)
{
	assert_true(f->outstanding[q] < QSIZE);
	f->outstanding[q]++;
	uint16_t d = f->next_desc[q];
	f->next_desc[q] = (uint16_t)((d + 1) % QSIZE);
	return d;
}

static void set_desc(struct fx *f, unsigned q, uint16_t d, uint64_t gpa, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	volatile struct virtq_desc *t = gptr(f, DESC_GPA(q), 16 * QSIZE);
	t[d].addr = gpa;
	t[d].len = len;
	t[d].flags = flags;
	t[d].next = next;
}

static void make_avail(struct fx *f, unsigned q, uint16_t head)
{
	uint16_t *avail = gptr(f, AVAIL_GPA(q), 6 + 2 * QSIZE);
	avail[2 + f->avail_idx[q] % QSIZE] = head;
	f->avail_idx[q]++;
	__atomic_store_n(&avail[1], f->avail_idx[q], __ATOMIC_RELEASE);
}

static uint16_t used_idx(struct fx *f, unsigned q)
{
	uint16_t *used = gptr(f, USED_GPA(q), 4);
	return __atomic_load_n(&used[1], __ATOMIC_ACQUIRE);
}

static struct virtq_used_elem used_elem(struct fx *f, unsigned q, uint16_t i)
{
	struct virtq_used_elem *ring = gptr(f, USED_GPA(q) + 4, 8 * QSIZE);
	return ring[i % QSIZE];
}

/* n receive buffers; split: header and data in two descriptors, as Linux before 6.3 did. */
static void post_rx(struct fx *f, unsigned n, bool split)
{
	for (unsigned i = 0; i < n; i++) {
		if (split) {
			uint16_t h = take_desc(f, 0), d = take_desc(f, 0);
			set_desc(f, 0, h, SLOT_GPA(0, h), VIRTIO_VSOCK_HDR_SIZE,
				 VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, d);
			set_desc(f, 0, d, SLOT_GPA(0, d), 4096, VIRTQ_DESC_F_WRITE, 0);
			make_avail(f, 0, h);
		} else {
			uint16_t d = take_desc(f, 0);
			set_desc(f, 0, d, SLOT_GPA(0, d), RXBUF, VIRTQ_DESC_F_WRITE, 0);
			make_avail(f, 0, d);
		}
	}
}

/* The next packet the device returned on rx, if any. */
static bool next_rx(struct fx *f, struct rxp *p)
{
	if (used_idx(f, 0) == f->used_seen[0])
		return false;
	struct virtq_used_elem e = used_elem(f, 0, f->used_seen[0]++);
	volatile struct virtq_desc *t = gptr(f, DESC_GPA(0), 16 * QSIZE);
	uint8_t raw[2 * SLOT];
	size_t got = 0;

	assert_true(e.id < QSIZE);
	for (uint16_t d = (uint16_t)e.id;;) {
		uint32_t len = t[d].len;
		assert_true(got + len <= sizeof(raw));
		memcpy(raw + got, gptr(f, t[d].addr, len), len);
		got += len;
		f->outstanding[0]--;
		if (!(t[d].flags & VIRTQ_DESC_F_NEXT))
			break;
		d = t[d].next;
	}
	assert_true(e.len >= VIRTIO_VSOCK_HDR_SIZE);
	assert_true(e.len <= got);
	memcpy(&p->h, raw, sizeof(p->h));
	p->used_len = e.len;
	p->data_len = e.len - VIRTIO_VSOCK_HDR_SIZE;
	assert_int_equal(p->h.len, p->data_len);
	memcpy(p->data, raw + VIRTIO_VSOCK_HDR_SIZE, p->data_len);
	return true;
}

static void expect_rx(struct fx *f, struct rxp *p)
{
	if (!next_rx(f, p))
		fail_msg("no packet on the rx queue");
	/* What every packet from the host says. */
	assert_int_equal(p->h.src_cid, VIRTIO_VSOCK_HOST_CID);
	assert_int_equal(p->h.dst_cid, GUEST_CID);
	assert_int_equal(p->h.type, VIRTIO_VSOCK_TYPE_STREAM);
}

static void expect_no_rx(struct fx *f)
{
	struct rxp p;
	if (next_rx(f, &p))
		fail_msg("unexpected packet: op %u %u -> %u", p.h.op, p.h.src_port, p.h.dst_port);
}

static struct virtio_vsock_hdr ghdr(struct fx *f, uint32_t src_port, uint32_t dst_port, uint16_t op,
				    uint32_t len)
{
	return (struct virtio_vsock_hdr){
		.src_cid = GUEST_CID, .dst_cid = VIRTIO_VSOCK_HOST_CID, .src_port = src_port,
		.dst_port = dst_port, .len = len, .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op,
		.buf_alloc = f->guest_buf_alloc, .fwd_cnt = f->guest_fwd_cnt,
	};
}

/*
 * Puts one packet on tx: header + data in one buffer (readable bytes
 * `chain_len`, at least the header), or split into header and data.
 */
static void submit_tx_raw(struct fx *f, const void *hdr, uint32_t hdr_bytes, const void *data,
			  uint32_t data_len, bool split)
{
	uint32_t total = hdr_bytes + data_len;
	if (split) {
		uint16_t h = take_desc(f, 1), d = take_desc(f, 1);
		uint64_t dgpa = data_len <= SLOT ? SLOT_GPA(1, d) : galloc(f, data_len);
		memcpy(gptr(f, SLOT_GPA(1, h), hdr_bytes), hdr, hdr_bytes);
		memcpy(gptr(f, dgpa, data_len), data, data_len);
		set_desc(f, 1, h, SLOT_GPA(1, h), hdr_bytes, VIRTQ_DESC_F_NEXT, d);
		set_desc(f, 1, d, dgpa, data_len, 0, 0);
		make_avail(f, 1, h);
	} else {
		uint16_t d = take_desc(f, 1);
		uint64_t gpa = total <= SLOT ? SLOT_GPA(1, d) : galloc(f, total);
		uint8_t *p = gptr(f, gpa, total ? total : 1);
		memcpy(p, hdr, hdr_bytes);
		if (data_len)
			memcpy(p + hdr_bytes, data, data_len);
		set_desc(f, 1, d, gpa, total, 0, 0);
		make_avail(f, 1, d);
	}
}

/* After a poll: the device took every tx chain and returned it. */
static void reap_tx(struct fx *f)
{
	assert_int_equal(used_idx(f, 1), f->avail_idx[1]);
	while (f->used_seen[1] != used_idx(f, 1)) {
		struct virtq_used_elem e = used_elem(f, 1, f->used_seen[1]++);
		volatile struct virtq_desc *t = gptr(f, DESC_GPA(1), 16 * QSIZE);
		assert_int_equal(e.len, 0);
		f->outstanding[1]--;
		if (t[e.id].flags & VIRTQ_DESC_F_NEXT)
			f->outstanding[1]--;
	}
}

static void send_pkt(struct fx *f, uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t flags,
		     const void *data, uint32_t len)
{
	struct virtio_vsock_hdr h = ghdr(f, src_port, dst_port, op, len);
	h.flags = flags;
	submit_tx_raw(f, &h, sizeof(h), data, len, false);
	pump(f);
	reap_tx(f);
}

/* ---- the host side ----------------------------------------------------------------------- */

static int unix_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(addr.sun_path));
	memcpy(addr.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		fail_msg("connect %s: %s", path, strerror(errno));
	return fd;
}

static int unix_listen(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(addr.sun_path));
	memcpy(addr.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(fd, 16), 0);
	return fd;
}

static void write_all(int fd, const void *buf, size_t len)
{
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
}

/* Reads up to len bytes, waiting up to ms for each part; returns what came (0: end of file first). */
static size_t read_within(int fd, void *buf, size_t len, int ms)
{
	size_t got = 0;
	while (got < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, ms) <= 0)
			break;
		ssize_t n = read(fd, (uint8_t *)buf + got, len - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

static void expect_read(int fd, const char *want)
{
	char buf[256] = { 0 };
	size_t n = strlen(want);
	assert_true(n < sizeof(buf));
	assert_int_equal(read_within(fd, buf, n, 2000), n);
	assert_memory_equal(buf, want, n);
}

/* The peer closed: end of file now (nothing else), within 2 s. */
static void expect_eof(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;
	assert_int_equal(poll(&p, 1, 2000), 1);
	ssize_t n = read(fd, &c, 1);
	if (n < 0 && errno == ECONNRESET)
		return;
	assert_int_equal(n, 0);
}

/* Nothing to read right now, and not closed. */
static void expect_open(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 0), 0);
}

/*
 * A host client through CONNECT to guest port `port`: the guest sees the
 * REQUEST (checked), answers it, the client reads "OK <host port>".
 * Returns the client socket and the host port.
 */
static int host_connect(struct fx *f, uint32_t port, uint32_t *host_port)
{
	char line[32];
	struct rxp p;
	int fd = unix_connect(f->path);

	snprintf(line, sizeof(line), "CONNECT %u\n", port);
	write_all(fd, line, strlen(line));
	post_rx(f, 1, false);
	pump(f);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(p.h.dst_port, port);
	assert_true(p.h.src_port >= FIRST_PORT);
	assert_int_equal(p.h.len, 0);
	assert_int_equal(p.h.buf_alloc, VIRTIO_VSOCK_BUF_ALLOC);
	send_pkt(f, port, p.h.src_port, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
	snprintf(line, sizeof(line), "OK %u\n", p.h.src_port);
	expect_read(fd, line);
	*host_port = p.h.src_port;
	return fd;
}

/* ---- config space and features ----------------------------------------------------------- */

static uint64_t cfg_read(struct virtio_mmio *t, uint32_t off, unsigned len)
{
	uint64_t v = 0;
	virtio_mmio_access(t, VIRTIO_MMIO_CONFIG + off, (uint8_t *)&v, len, false);
	return v;
}

static uint32_t reg_read(struct virtio_mmio *t, uint32_t off)
{
	uint32_t v = 0;
	virtio_mmio_access(t, off, (uint8_t *)&v, 4, false);
	return v;
}

static void reg_write(struct virtio_mmio *t, uint32_t off, uint32_t v)
{
	virtio_mmio_access(t, off, (uint8_t *)&v, 4, true);
}

static void config_and_features(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	struct virtio_mmio t;
	virtio_mmio_init(&t, f->dev);

	assert_int_equal(reg_read(&t, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_VSOCK);
	for (unsigned q = 0; q < 4; q++) {
		reg_write(&t, VIRTIO_MMIO_QUEUE_SEL, q);
		assert_int_equal(reg_read(&t, VIRTIO_MMIO_QUEUE_NUM_MAX), q < 3 ? 256 : 0);
	}
	reg_write(&t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t lo = reg_read(&t, VIRTIO_MMIO_DEVICE_FEATURES);
	reg_write(&t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint32_t hi = reg_read(&t, VIRTIO_MMIO_DEVICE_FEATURES);
	assert_int_equal(lo & 0xffffff, 0); /* no device feature: streams only, no SEQPACKET (bit 1) */
	assert_true(hi & 1);                /* VERSION_1 */
	assert_int_equal(cfg_read(&t, 0, 8), GUEST_CID);
	assert_int_equal(cfg_read(&t, 0, 4), GUEST_CID);
	assert_int_equal(cfg_read(&t, 4, 4), 0);
	assert_int_equal(cfg_read(&t, 8, 4), 0); /* past config_size */
	fx_free(f);
}

static void constructor_errors(void **state)
{
	(void)state;
	struct virtio_device *dev;
	struct ember_err err = { "" };
	char dir[64], path[256];

	snprintf(dir, sizeof(dir), "/tmp/ember-vsock-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/v.sock", dir);

	static const uint64_t bad[] = { 0, 1, 2, 0xffffffffULL, 1ULL << 40 };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(virtio_vsock_new(path, bad[i], &dev, &err), -EINVAL);
		assert_contains(err.msg, "--vsock ");
		assert_contains(err.msg, "guest CID");
		assert_null(strchr(err.msg, '\n'));
	}
	assert_contains(err.msg, "too large");

	/* The path exists already. */
	int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(virtio_vsock_new(path, 3, &dev, &err), -EADDRINUSE);
	assert_contains(err.msg, "already exists");
	struct stat st;
	assert_int_equal(stat(path, &st), 0); /* and it is left alone */
	unlink(path);

	/* Too long for sockaddr_un once "_PORT" is added. */
	char longp[120];
	memset(longp, 'x', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(virtio_vsock_new(longp, 3, &dev, &err), -ENAMETOOLONG);
	assert_contains(err.msg, "too long");

	/* A directory that is not there. */
	snprintf(path, sizeof(path), "%s/nope/v.sock", dir);
	assert_int_equal(virtio_vsock_new(path, 3, &dev, &err), -ENOENT);
	assert_contains(err.msg, "--vsock ");
	rmdir(dir);
}

/* ---- host -> guest ----------------------------------------------------------------------- */

static void host_connect_and_data(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	uint32_t hport, hport2;
	struct rxp p;

	int c1 = host_connect(f, 1234, &hport);
	assert_int_equal(hport, FIRST_PORT);
	int c2 = host_connect(f, 1234, &hport2);
	assert_int_equal(hport2, FIRST_PORT + 1); /* the next ephemeral port */
	assert_int_equal(nr_conns(f), 2);

	/* Host -> guest, into split (header | data) receive buffers. */
	static const char msg[] = "hello from the host";
	write_all(c1, msg, sizeof(msg) - 1);
	post_rx(f, 2, true);
	pump(f);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(p.h.src_port, hport);
	assert_int_equal(p.h.dst_port, 1234);
	assert_int_equal(p.data_len, sizeof(msg) - 1);
	assert_memory_equal(p.data, msg, sizeof(msg) - 1);
	assert_int_equal(p.h.buf_alloc, VIRTIO_VSOCK_BUF_ALLOC);
	assert_int_equal(p.h.fwd_cnt, 0);
	expect_no_rx(f);

	/* Guest -> host, header and data in one buffer and in two. */
	static const char g1[] = "hello from the guest", g2[] = ", and more";
	send_pkt(f, 1234, hport, VIRTIO_VSOCK_OP_RW, 0, g1, sizeof(g1) - 1);
	struct virtio_vsock_hdr h = ghdr(f, 1234, hport, VIRTIO_VSOCK_OP_RW, sizeof(g2) - 1);
	submit_tx_raw(f, &h, sizeof(h), g2, sizeof(g2) - 1, true);
	pump(f);
	reap_tx(f);
	expect_read(c1, "hello from the guest, and more");
	expect_open(c2); /* nothing crossed over to the other connection */

	/* The second connection carries its own bytes. */
	write_all(c2, "two", 3);
	pump(f);
	expect_rx(f, &p);
	assert_int_equal(p.h.src_port, hport2);
	assert_memory_equal(p.data, "two", 3);
	expect_no_rx(f);

	/* A client's first data may follow its CONNECT line in the same write. */
	int c3 = unix_connect(f->path);
	write_all(c3, "CONN", 4);
	post_rx(f, 4, false);
	pump(f);
	expect_no_rx(f);   /* half a line: nothing yet, nothing closed */
	expect_open(c3);
	write_all(c3, "ECT 77\nEARLY", 12);
	pump(f);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(p.h.dst_port, 77);
	uint32_t hport3 = p.h.src_port;
	expect_no_rx(f); /* no data before the guest answered */
	send_pkt(f, 77, hport3, VIRTIO_VSOCK_OP_RESPONSE, 0, NULL, 0);
	char ok[32];
	snprintf(ok, sizeof(ok), "OK %u\n", hport3);
	expect_read(c3, ok);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(p.data_len, 5);
	assert_memory_equal(p.data, "EARLY", 5);

	close(c1);
	close(c2);
	close(c3);
	fx_free(f);
}

static void bad_connect_lines(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	static const char *const lines[] = {
		"HELLO\n",
		"CONNECT\n",
		"CONNECT \n",
		"CONNECT 12x\n",
		"connect 5\n",
		"CONNECT 4294967296\n", /* past 32 bits */
		"CONNECT 99999999999999999999\n",
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* no newline, too long */
	};

	post_rx(f, 8, false);
	for (unsigned i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		int fd = unix_connect(f->path);
		write_all(fd, lines[i], strlen(lines[i]));
		pump(f);
		expect_eof(fd);
		close(fd);
	}
	/* The end of the stream before the newline. */
	int fd = unix_connect(f->path);
	write_all(fd, "CONNECT 5", 9);
	pump(f);
	expect_open(fd);
	shutdown(fd, SHUT_WR);
	pump(f);
	expect_eof(fd);
	close(fd);

	expect_no_rx(f);
	assert_int_equal(nr_conns(f), 0);
	assert_false(needs_reset(f));

	/* Still serving: "CONNECT 5\r\n" (a client that ends lines the network way) works. */
	fd = unix_connect(f->path);
	write_all(fd, "CONNECT  5\r\n", 12);
	pump(f);
	struct rxp p;
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(p.h.dst_port, 5);
	close(fd);
	pump(f);
	/* The client left before the guest answered: the guest gets an RST. */
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(nr_conns(f), 0);
	fx_free(f);
}

static void guest_refuses(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	struct rxp p;

	/* No listener on that guest port: the guest answers RST, the client is closed. */
	int fd = unix_connect(f->path);
	write_all(fd, "CONNECT 9\n", 10);
	post_rx(f, 1, false);
	pump(f);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_REQUEST);
	send_pkt(f, 9, p.h.src_port, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	expect_eof(fd);
	close(fd);
	assert_int_equal(nr_conns(f), 0);
	expect_no_rx(f); /* an RST is never answered */
	fx_free(f);
}

/* §5.10.6.3: never more than the guest's buf_alloc - (tx_cnt - fwd_cnt) in flight. */
static void credit_host_to_guest(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	uint8_t sent[300], got[300];
	size_t have = 0;
	uint32_t hport;
	struct rxp p;

	f->guest_buf_alloc = 100;
	int fd = host_connect(f, 80, &hport);
	for (unsigned i = 0; i < sizeof(sent); i++)
		sent[i] = (uint8_t)(i * 7 + 1);
	write_all(fd, sent, sizeof(sent));

	post_rx(f, 8, false);
	pump(f);
	for (unsigned round = 0; round < 3; round++) {
		size_t this_round = 0;
		bool asked = false;
		while (next_rx(f, &p)) {
			assert_int_equal(p.h.dst_port, 80);
			if (p.h.op == VIRTIO_VSOCK_OP_CREDIT_REQUEST) {
				asked = true;
				continue;
			}
			assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RW);
			memcpy(got + have, p.data, p.data_len);
			have += p.data_len;
			this_round += p.data_len;
		}
		assert_int_equal(this_round, 100); /* exactly the credit, not a byte more */
		assert_true(asked);                /* and then it asks for more */
		pump(f);
		expect_no_rx(f); /* nothing without new credit, though rx buffers are there */
		/* The guest's application read it: CREDIT_UPDATE with the new fwd_cnt. */
		f->guest_fwd_cnt += 100;
		send_pkt(f, 80, hport, VIRTIO_VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	}
	expect_no_rx(f); /* all 300 bytes went */
	assert_int_equal(have, sizeof(sent));
	assert_memory_equal(got, sent, sizeof(sent));

	/* A CREDIT_REQUEST is answered with our counts. */
	send_pkt(f, 80, hport, VIRTIO_VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(p.h.buf_alloc, VIRTIO_VSOCK_BUF_ALLOC);
	close(fd);
	fx_free(f);
}

/* §5.10.6.3 the other way: past the credit we advertised is a protocol violation. */
static void guest_exceeds_credit(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	uint32_t hport;
	struct rxp p;
	const uint32_t big = VIRTIO_VSOCK_BUF_ALLOC + 1;
	uint8_t *data = calloc(1, big);

	int fd = host_connect(f, 81, &hport);
	post_rx(f, 1, false);
	send_pkt(f, 81, hport, VIRTIO_VSOCK_OP_RW, 0, data, big);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.h.src_port, hport);
	assert_int_equal(p.h.dst_port, 81);
	assert_int_equal(nr_conns(f), 0);
	/* Nothing of it reached the host: the client just sees the end. */
	expect_eof(fd);
	close(fd);

	/* Exactly the credit, with nobody reading on the host, is fine. */
	fd = host_connect(f, 82, &hport);
	for (uint32_t i = 0; i < VIRTIO_VSOCK_BUF_ALLOC; i++)
		data[i] = (uint8_t)(i ^ (i >> 8));
	send_pkt(f, 82, hport, VIRTIO_VSOCK_OP_RW, 0, data, VIRTIO_VSOCK_BUF_ALLOC);
	assert_int_equal(nr_conns(f), 1);
	/* The host reads it all: every byte arrives, and the guest hears of the freed credit. */
	uint8_t *back = malloc(VIRTIO_VSOCK_BUF_ALLOC);
	size_t n = 0;
	for (int tries = 0; n < VIRTIO_VSOCK_BUF_ALLOC && tries < 1000; tries++) {
		n += read_within(fd, back + n, VIRTIO_VSOCK_BUF_ALLOC - n, 10);
		pump(f); /* the device writes the rest as the socket drains */
	}
	assert_int_equal(n, VIRTIO_VSOCK_BUF_ALLOC);
	assert_memory_equal(back, data, n);
	post_rx(f, 1, false); /* the update waited for a buffer */
	pump(f);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(p.h.fwd_cnt, VIRTIO_VSOCK_BUF_ALLOC);
	free(back);
	free(data);
	close(fd);
	fx_free(f);
}

/* ---- guest -> host ----------------------------------------------------------------------- */

static void guest_connects_to_host(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	char lpath[128];
	struct rxp p;

	snprintf(lpath, sizeof(lpath), "%s_5000", f->path);
	int lfd = unix_listen(lpath);
	post_rx(f, 4, false);
	send_pkt(f, 777, 5000, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RESPONSE);
	assert_int_equal(p.h.src_port, 5000);
	assert_int_equal(p.h.dst_port, 777);
	assert_int_equal(p.h.buf_alloc, VIRTIO_VSOCK_BUF_ALLOC);
	int srv = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(srv >= 0);
	assert_int_equal(nr_conns(f), 1);

	send_pkt(f, 777, 5000, VIRTIO_VSOCK_OP_RW, 0, "ping", 4);
	expect_read(srv, "ping");
	write_all(srv, "pong", 4);
	pump(f);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(p.h.src_port, 5000);
	assert_memory_equal(p.data, "pong", 4);

	/* The guest shuts its sending side: the host sees end of file, and can still answer. */
	send_pkt(f, 777, 5000, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
	expect_eof(srv);
	write_all(srv, "late", 4);
	pump(f);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RW);
	assert_memory_equal(p.data, "late", 4);
	/* Then it closes (both ways): the device ends it with an RST (§5.10.6.5). */
	send_pkt(f, 777, 5000, VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_SHUTDOWN_RCV, NULL, 0);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(nr_conns(f), 0);

	/* A second guest connection to the same port, closed by the host this time. */
	send_pkt(f, 778, 5000, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	post_rx(f, 2, false);
	pump(f);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RESPONSE);
	int srv2 = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(srv2 >= 0);
	close(srv2);
	pump(f);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(p.h.flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	assert_int_equal(nr_conns(f), 1); /* until the guest's RST */
	send_pkt(f, 778, 5000, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	assert_int_equal(nr_conns(f), 0);
	expect_no_rx(f);

	close(srv);
	close(lfd);
	unlink(lpath);
	fx_free(f);
}

static void guest_connect_refused(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	struct rxp p;

	/* Nothing at "<path>_5001". */
	post_rx(f, 1, false);
	send_pkt(f, 900, 5001, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.h.src_port, 5001);
	assert_int_equal(p.h.dst_port, 900);
	assert_int_equal(nr_conns(f), 0);

	/* A file that is not a socket there is refused the same way. */
	char other[128];
	snprintf(other, sizeof(other), "%s_5002", f->path);
	int fd = open(other, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	post_rx(f, 1, false);
	send_pkt(f, 901, 5002, VIRTIO_VSOCK_OP_REQUEST, 0, NULL, 0);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RST);
	unlink(other);
	fx_free(f);
}

static void request_flood(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	struct rxp p;
	const unsigned total = 10000, batch = 32;

	for (unsigned sent = 0; sent < total; sent += batch) {
		post_rx(f, batch, false);
		for (unsigned i = 0; i < batch; i++) {
			struct virtio_vsock_hdr h = ghdr(f, 10000 + sent + i, 6000, VIRTIO_VSOCK_OP_REQUEST, 0);
			submit_tx_raw(f, &h, sizeof(h), NULL, 0, false);
		}
		poll_dev(f);
		reap_tx(f);
		for (unsigned i = 0; i < batch; i++) {
			expect_rx(f, &p);
			assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RST);
			assert_int_equal(p.h.src_port, 6000);
			assert_int_equal(p.h.dst_port, 10000 + sent + i);
		}
		expect_no_rx(f);
		assert_int_equal(nr_conns(f), 0);
	}
	assert_false(needs_reset(f));
	fx_free(f);
}

/* ---- what a guest may get wrong ---------------------------------------------------------- */

static void malformed_packets(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	uint32_t hport;
	struct rxp p;
	struct virtio_vsock_hdr h;

	post_rx(f, 16, false);
	/* A chain shorter than a header: dropped. */
	h = ghdr(f, 1, 2, VIRTIO_VSOCK_OP_REQUEST, 0);
	submit_tx_raw(f, &h, 20, NULL, 0, false);
	pump(f);
	reap_tx(f);
	expect_no_rx(f);

	/* Another guest's CID as the source: dropped, not answered. */
	h = ghdr(f, 1, 2, VIRTIO_VSOCK_OP_REQUEST, 0);
	h.src_cid = 7;
	submit_tx_raw(f, &h, sizeof(h), NULL, 0, false);
	pump(f);
	reap_tx(f);
	expect_no_rx(f);

	/* A connect to a CID that is not the host: refused, from that CID. */
	h = ghdr(f, 41, 42, VIRTIO_VSOCK_OP_REQUEST, 0);
	h.dst_cid = 9;
	submit_tx_raw(f, &h, sizeof(h), NULL, 0, false);
	pump(f);
	reap_tx(f);
	assert_true(next_rx(f, &p));
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.h.src_cid, 9);
	assert_int_equal(p.h.src_port, 42);
	assert_int_equal(p.h.dst_port, 41);

	/* SEQPACKET (never offered): refused. */
	h = ghdr(f, 43, 44, VIRTIO_VSOCK_OP_REQUEST, 0);
	h.type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	submit_tx_raw(f, &h, sizeof(h), NULL, 0, false);
	pump(f);
	reap_tx(f);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RST);

	/* Any other packet of a type we do not offer: RST too (§5.10.6.4), but never for an RST. */
	h = ghdr(f, 43, 44, VIRTIO_VSOCK_OP_RW, 0);
	h.type = 7;
	submit_tx_raw(f, &h, sizeof(h), NULL, 0, false);
	h.op = VIRTIO_VSOCK_OP_RST;
	submit_tx_raw(f, &h, sizeof(h), NULL, 0, false);
	pump(f);
	reap_tx(f);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RST);
	expect_no_rx(f);

	/* A length past its buffers, for no connection: RST. */
	h = ghdr(f, 43, 44, VIRTIO_VSOCK_OP_RW, 100);
	submit_tx_raw(f, &h, sizeof(h), "abc", 3, false);
	pump(f);
	reap_tx(f);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RST);

	/* Data for a connection that does not exist: RST; an RST for one: nothing. */
	send_pkt(f, 45, 46, VIRTIO_VSOCK_OP_RW, 0, "x", 1);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.h.src_port, 46);
	assert_int_equal(p.h.dst_port, 45);
	send_pkt(f, 45, 46, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	expect_no_rx(f);

	/* A length past the chain, on a live connection: that connection is reset. */
	int fd = host_connect(f, 47, &hport);
	h = ghdr(f, 47, hport, VIRTIO_VSOCK_OP_RW, 1000);
	submit_tx_raw(f, &h, sizeof(h), "short", 5, false);
	pump(f);
	reap_tx(f);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RST);
	assert_int_equal(p.h.src_port, hport);
	expect_eof(fd);
	close(fd);

	/* An unknown operation on a live connection: reset as well. */
	fd = host_connect(f, 48, &hport);
	send_pkt(f, 48, hport, 99, 0, NULL, 0);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RST);
	expect_eof(fd);
	close(fd);
	assert_int_equal(nr_conns(f), 0);

	/* None of it broke the device. */
	assert_false(needs_reset(f));
	fd = host_connect(f, 49, &hport);
	send_pkt(f, 49, hport, VIRTIO_VSOCK_OP_RW, 0, "alive", 5);
	expect_read(fd, "alive");
	close(fd);
	fx_free(f);
}

static void malformed_ring_needs_reset(void **state)
{
	(void)state;
	struct fx *f = fx_new();

	/* The available index jumps past the queue size: the ring itself is broken. */
	uint16_t *avail = gptr(f, AVAIL_GPA(1), 6 + 2 * QSIZE);
	__atomic_store_n(&avail[1], (uint16_t)(QSIZE + 5), __ATOMIC_RELEASE);
	poll_dev(f);
	assert_true(needs_reset(f));
	/* Host clients are still accepted and closed cleanly; nothing crashes. */
	int fd = unix_connect(f->path);
	write_all(fd, "CONNECT 1\n", 10);
	pump(f);
	close(fd);
	pump(f);

	/* A driver reset brings it back. */
	pthread_mutex_lock(&f->dev->lock);
	virtio_reset(f->dev);
	pthread_mutex_unlock(&f->dev->lock);
	assert_int_equal(nr_conns(f), 0);
	setup_queues(f);
	uint32_t hport;
	fd = host_connect(f, 2, &hport);
	close(fd);
	fx_free(f);
}

static void host_half_close(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	uint32_t hport;
	struct rxp p;

	/* The client sends its request and shuts its side: the guest may still answer. */
	int fd = host_connect(f, 90, &hport);
	write_all(fd, "request", 7);
	shutdown(fd, SHUT_WR);
	post_rx(f, 4, false);
	pump(f);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RW);
	assert_memory_equal(p.data, "request", 7);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(p.h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	send_pkt(f, 90, hport, VIRTIO_VSOCK_OP_RW, 0, "answer", 6);
	expect_read(fd, "answer");
	/* The guest closes: SHUTDOWN both ways, our RST, the client's end of file. */
	send_pkt(f, 90, hport, VIRTIO_VSOCK_OP_SHUTDOWN,
		 VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND, NULL, 0);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RST);
	expect_eof(fd);
	close(fd);
	assert_int_equal(nr_conns(f), 0);
	fx_free(f);
}

static void reset_closes_connections(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	uint32_t hport;

	int a = host_connect(f, 1, &hport);
	int b = host_connect(f, 2, &hport);
	assert_int_equal(nr_conns(f), 2);
	pthread_mutex_lock(&f->dev->lock);
	virtio_reset(f->dev);
	pthread_mutex_unlock(&f->dev->lock);
	assert_int_equal(nr_conns(f), 0);
	expect_eof(a);
	expect_eof(b);
	close(a);
	close(b);
	fx_free(f);
}

/* ---- snapshots --------------------------------------------------------------------------- */

static void snapshot_rules(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	struct ember_err err = { "" };
	uint32_t hport;

	int fd = host_connect(f, 3, &hport);
	pthread_mutex_lock(&f->dev->lock);
	int rc = f->dev->ops->save(f->dev, NULL, 0, &err);
	pthread_mutex_unlock(&f->dev->lock);
	assert_int_equal(rc, -EBUSY);
	assert_contains(err.msg, "snapshot refused");
	assert_contains(err.msg, f->path);
	assert_contains(err.msg, "1 connection open");
	send_pkt(f, 3, hport, VIRTIO_VSOCK_OP_RST, 0, NULL, 0);
	close(fd);
	pthread_mutex_lock(&f->dev->lock);
	rc = f->dev->ops->save(f->dev, NULL, 0, &err);
	pthread_mutex_unlock(&f->dev->lock);
	assert_int_equal(rc, 0);

	/* Restored: TRANSPORT_RESET on the first event buffer (§5.10.6.6), once. */
	assert_int_equal(f->dev->ops->restore(f->dev, NULL, 0, &err), 0);
	pump(f); /* no event buffer yet: it waits */
	uint16_t d = take_desc(f, 2);
	uint32_t *ev = gptr(f, SLOT_GPA(2, d), 4);
	*ev = 0xdeadbeef;
	set_desc(f, 2, d, SLOT_GPA(2, d), 4, VIRTQ_DESC_F_WRITE, 0);
	make_avail(f, 2, d);
	d = take_desc(f, 2);
	set_desc(f, 2, d, SLOT_GPA(2, d), 4, VIRTQ_DESC_F_WRITE, 0);
	make_avail(f, 2, d);
	pump(f);
	assert_int_equal(used_idx(f, 2), 1);
	assert_int_equal(used_elem(f, 2, 0).len, 4);
	assert_int_equal(*ev, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	fx_free(f);
}

/* ---- the connector ----------------------------------------------------------------------- */

/* The value of "Key:" in /proc/<pid>/status, or "" */
static void proc_status(pid_t pid, const char *key, char *out, size_t size)
{
	char path[64], line[256];
	size_t klen = strlen(key);

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	out[0] = '\0';
	while (fgets(line, sizeof(line), fp))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			char *v = line + klen + 1;
			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(out, size, "%s", v);
			break;
		}
	fclose(fp);
}

/* The children of this process (the connectors of live devices). */
static unsigned children(pid_t *pids, unsigned max)
{
	char path[64];
	unsigned n = 0;
	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	int pid;
	while (n < max && fscanf(fp, "%d", &pid) == 1)
		pids[n++] = pid;
	fclose(fp);
	return n;
}

/* What vsock_connect.c's top comment promises about the connector process. */
static void connector_is_confined(void **state)
{
	(void)state;
	pid_t before[8], pid[8];
	unsigned nb = children(before, 8);
	struct fx *f = fx_new();
	unsigned n = children(pid, 8);
	char v[128];

	assert_int_equal(n, nb + 1);
	pid_t c = pid[n - 1];
	proc_status(c, "Seccomp", v, sizeof(v));
	assert_string_equal(v, "2");             /* a filter */
	proc_status(c, "NoNewPrivs", v, sizeof(v));
	assert_string_equal(v, "1");
	proc_status(c, "CapEff", v, sizeof(v));
	assert_string_equal(v, "0000000000000000");
	proc_status(c, "CapPrm", v, sizeof(v));
	assert_string_equal(v, "0000000000000000");
	assert_int_equal(getsid(c), c);          /* its own session: no terminal signals */

	/* Exactly two descriptors: its socketpair end and the socket's directory. */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)c);
	DIR *d = opendir(path);
	assert_non_null(d);
	unsigned fds = 0;
	for (struct dirent *e; (e = readdir(d));)
		if (e->d_name[0] != '.')
			fds++;
	closedir(d);
	assert_int_equal(fds, 2);

	fx_free(f);
	/* Reaped at destroy: no zombie left. */
	n = children(pid, 8);
	assert_int_equal(n, nb);
	snprintf(path, sizeof(path), "/proc/%d", (int)c);
	struct stat st;
	assert_int_equal(stat(path, &st), -1);
}

/* ---- the device thread ------------------------------------------------------------------- */

static bool wait_used(struct fx *f, unsigned q, uint16_t want)
{
	for (int i = 0; i < 2000; i++) {
		if (used_idx(f, q) == want)
			return true;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return false;
}

static void on_worker_thread(void **state)
{
	(void)state;
	struct fx *f = fx_new();
	struct ember_err err = { "" };
	struct rxp p;

	for (unsigned q = 0; q < NQ; q++) {
		f->dev->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(f->dev->kick_fd[q] >= 0);
	}
	pthread_mutex_lock(&f->dev->lock);
	post_rx(f, 4, false);
	pthread_mutex_unlock(&f->dev->lock);
	if (f->dev->ops->start(f->dev, &err))
		fail_msg("start: %s", err.msg);

	/* A client's line wakes the thread through the epoll set; the REQUEST lands in rx. */
	int fd = unix_connect(f->path);
	write_all(fd, "CONNECT 321\n", 12);
	assert_true(wait_used(f, 0, 1));
	pthread_mutex_lock(&f->dev->lock);
	expect_rx(f, &p);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_REQUEST);
	struct virtio_vsock_hdr h = ghdr(f, 321, p.h.src_port, VIRTIO_VSOCK_OP_RESPONSE, 0);
	submit_tx_raw(f, &h, sizeof(h), NULL, 0, false);
	pthread_mutex_unlock(&f->dev->lock);
	assert_int_equal(eventfd_write(f->dev->kick_fd[1], 1), 0); /* what KVM does on QueueNotify */
	char ok[32];
	snprintf(ok, sizeof(ok), "OK %u\n", p.h.src_port);
	expect_read(fd, ok);
	write_all(fd, "via thread", 10);
	assert_true(wait_used(f, 0, 2));
	pthread_mutex_lock(&f->dev->lock);
	expect_rx(f, &p);
	pthread_mutex_unlock(&f->dev->lock);
	assert_int_equal(p.h.op, VIRTIO_VSOCK_OP_RW);
	assert_memory_equal(p.data, "via thread", 10);
	close(fd);

	int kicks[NQ];
	for (unsigned q = 0; q < NQ; q++)
		kicks[q] = f->dev->kick_fd[q];
	fx_free(f); /* stops the thread */
	for (unsigned q = 0; q < NQ; q++)
		close(kicks[q]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_and_features),
		cmocka_unit_test(constructor_errors),
		cmocka_unit_test(host_connect_and_data),
		cmocka_unit_test(bad_connect_lines),
		cmocka_unit_test(guest_refuses),
		cmocka_unit_test(credit_host_to_guest),
		cmocka_unit_test(guest_exceeds_credit),
		cmocka_unit_test(guest_connects_to_host),
		cmocka_unit_test(guest_connect_refused),
		cmocka_unit_test(request_flood),
		cmocka_unit_test(malformed_packets),
		cmocka_unit_test(malformed_ring_needs_reset),
		cmocka_unit_test(host_half_close),
		cmocka_unit_test(reset_closes_connections),
		cmocka_unit_test(snapshot_rules),
		cmocka_unit_test(on_worker_thread),
		cmocka_unit_test(connector_is_confined),
	};
	/* A host peer that closed makes writes fail with EPIPE; ember ignores SIGPIPE too (vm.c). */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("virtio-vsock", tests, NULL, NULL);
}
