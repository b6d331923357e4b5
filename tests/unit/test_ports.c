// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio/ports.c (virtio-console, MULTIPORT) driven as Linux's
 * virtio_console driver drives it, without KVM: a fake VM with guest
 * memory, every split virtqueue laid out by hand in it, control messages
 * and data written into it, and kicks on the kick eventfds.  The device
 * serves its queues on its own I/O thread; the back end's callbacks run
 * there, and record what they see for the test thread, which waits for
 * it with a timeout.
 *
 * Queues: port 0 rx=0 tx=1, control rx=2 tx=3, port p>=1 rx=2+2p tx=3+2p.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "virtio/ports.h"
#include "virtio/snapshot.h"
#include "vm/machine.h"

#define MiB (1ULL << 20)
#define MEM_SIZE (4 * MiB)
#define QSIZE 64
/* Queue q's rings: descriptors (1 KiB), avail (134 bytes), used (518 bytes). */
#define DESC_GPA(q)  (0x10000 + (uint64_t)(q) * 0x1000)
#define AVAIL_GPA(q) (DESC_GPA(q) + 0x400)
#define USED_GPA(q)  (DESC_GPA(q) + 0x800)
#define HEAP_GPA 0x100000
#define TIMEOUT_S 5

#define VIRTIO_CONSOLE_F_MULTIPORT 1

/* §5.3.6.2 control events. */
enum {
	DEVICE_READY = 0,
	DEVICE_ADD = 1,
	PORT_READY = 3,
	PORT_OPEN = 6,
	PORT_NAME = 7,
};

enum { CONTROL_RX = 2, CONTROL_TX = 3 };

static unsigned rx_q(unsigned port)
{
	return port == 0 ? 0 : 2 + 2 * port;
}

static unsigned tx_q(unsigned port)
{
	return rx_q(port) + 1;
}

static const char *const names4[] = { "org.ember.control", "org.ember.stdin", "org.ember.stdout",
				      "org.ember.stderr" };

/* ---- the fixture: a device, its back end's record, a guest driver's state --------------- */

enum ev_kind { EV_WROTE, EV_OPEN, EV_CAN_SEND };

struct event {
	enum ev_kind kind;
	unsigned port;
	bool open;       /* EV_OPEN */
	size_t n;        /* EV_WROTE: bytes; EV_CAN_SEND: what the hook's send took */
};

#define MAX_EVENTS 64
#define WROTE_MAX 16384

struct fx;
typedef void (*hook_fn)(struct fx *f, unsigned port, bool open);

struct fx {
	struct machine vm;
	struct virtio_device *dev;
	unsigned nr;
	const char *const *names;
	int job_fd;                  /* watched by the I/O thread: runs `job` there */
	uint64_t heap;
	uint16_t avail_idx[VIRTIO_MAX_QUEUES];
	uint16_t next_desc[VIRTIO_MAX_QUEUES];
	unsigned descs_used[VIRTIO_MAX_QUEUES];
	uint16_t ctl_seen;           /* control receiveq entries the test has read */

	/* What the back end saw (I/O thread), under lock. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct event ev[MAX_EVENTS];
	unsigned nev;
	uint8_t wrote[VIRTIO_PORTS_MAX][WROTE_MAX];
	size_t wrote_len[VIRTIO_PORTS_MAX];
	unsigned jobs_done;
	char cb_error[128];          /* a callback saw something wrong: no cmocka asserts off the test thread */

	/* Set by a test before the event that runs them; called on the I/O thread, device lock held. */
	hook_fn on_open, on_wrote, on_can_send;
	void (*job)(struct fx *f);
	unsigned hook_port;          /* what the hooks act on */
	const uint8_t *hook_data;
	size_t hook_len, hook_sent;
	unsigned close_port;         /* what hook_close closes */
	bool guest_open_now;         /* what job_guest_open saw */
};

/* With f->lock held. */
static void cb_fail(struct fx *f, const char *what)
{
	if (!f->cb_error[0])
		snprintf(f->cb_error, sizeof(f->cb_error), "%s", what);
}

static void record(struct fx *f, struct event e)
{
	pthread_mutex_lock(&f->lock);
	if (f->nev < MAX_EVENTS)
		f->ev[f->nev++] = e;
	else
		cb_fail(f, "too many events");
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static void be_wrote(void *opaque, unsigned port, const uint8_t *data, size_t len)
{
	struct fx *f = opaque;

	pthread_mutex_lock(&f->lock);
	if (port >= f->nr || f->wrote_len[port] + len > WROTE_MAX)
		cb_fail(f, "guest_wrote: bad port or too much data");
	else {
		memcpy(f->wrote[port] + f->wrote_len[port], data, len);
		f->wrote_len[port] += len;
	}
	pthread_mutex_unlock(&f->lock);
	record(f, (struct event){ .kind = EV_WROTE, .port = port, .n = len });
	if (f->on_wrote)
		f->on_wrote(f, port, false);
}

static void be_open(void *opaque, unsigned port, bool open)
{
	struct fx *f = opaque;

	record(f, (struct event){ .kind = EV_OPEN, .port = port, .open = open });
	if (f->on_open)
		f->on_open(f, port, open);
}

static void be_can_send(void *opaque, unsigned port)
{
	struct fx *f = opaque;
	size_t sent = 0;

	/* The hook fields are the test's while no hook is set. */
	if (f->on_can_send) {
		f->on_can_send(f, port, false);
		if (port == f->hook_port)
			sent = f->hook_sent;
	}
	record(f, (struct event){ .kind = EV_CAN_SEND, .port = port, .n = sent });
}

static void be_fd_ready(void *opaque, unsigned index)
{
	struct fx *f = opaque;
	eventfd_t count;

	if (index != 0) {
		pthread_mutex_lock(&f->lock);
		cb_fail(f, "fd_ready for a fd never watched");
		pthread_mutex_unlock(&f->lock);
		return;
	}
	if (eventfd_read(f->job_fd, &count) < 0)
		return; /* someone else's wake-up already took it */
	pthread_mutex_lock(&f->lock);
	void (*job)(struct fx *) = f->job;
	f->job = NULL;
	pthread_mutex_unlock(&f->lock);
	if (job)
		job(f);
	pthread_mutex_lock(&f->lock);
	f->jobs_done++;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static void deadline(struct timespec *until)
{
	clock_gettime(CLOCK_REALTIME, until);
	until->tv_sec += TIMEOUT_S;
}

/*
 * Runs `job` on the I/O thread (device lock held, as a back end's own work
 * would run) and waits for it.  With job NULL it is a barrier: the batch
 * that runs it drained every queue after our last ring write (fd_ready
 * comes after the drain, in a serve that began after we woke it).
 */
static void run_on_io(struct fx *f, void (*job)(struct fx *))
{
	struct timespec until;

	pthread_mutex_lock(&f->lock);
	f->job = job;
	unsigned want = f->jobs_done + 1;
	pthread_mutex_unlock(&f->lock);
	assert_int_equal(eventfd_write(f->job_fd, 1), 0);
	deadline(&until);
	pthread_mutex_lock(&f->lock);
	while (f->jobs_done < want && pthread_cond_timedwait(&f->cond, &f->lock, &until) == 0)
		;
	bool done = f->jobs_done >= want;
	char error[sizeof(f->cb_error)];
	memcpy(error, f->cb_error, sizeof(error));
	pthread_mutex_unlock(&f->lock);
	if (!done)
		fail_msg("the I/O thread did not run a job within %d s", TIMEOUT_S);
	if (error[0])
		fail_msg("callback: %s", error);
}

static void sync_io(struct fx *f)
{
	run_on_io(f, NULL);
}

/* Waits until the back end has seen `n` events in all. */
static void wait_events(struct fx *f, unsigned n)
{
	struct timespec until;

	deadline(&until);
	pthread_mutex_lock(&f->lock);
	while (f->nev < n && pthread_cond_timedwait(&f->cond, &f->lock, &until) == 0)
		;
	unsigned got = f->nev;
	pthread_mutex_unlock(&f->lock);
	if (got < n)
		fail_msg("%u back-end events within %d s, expected %u", got, TIMEOUT_S, n);
}

static unsigned nevents(struct fx *f)
{
	pthread_mutex_lock(&f->lock);
	unsigned n = f->nev;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static struct event event_at(struct fx *f, unsigned i)
{
	pthread_mutex_lock(&f->lock);
	struct event e = f->ev[i];
	pthread_mutex_unlock(&f->lock);
	return e;
}

static void clear_events(struct fx *f)
{
	pthread_mutex_lock(&f->lock);
	f->nev = 0;
	memset(f->wrote_len, 0, sizeof(f->wrote_len));
	pthread_mutex_unlock(&f->lock);
}

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
	memset(gptr(f, gpa, len), 0xcc, len); /* stale bytes: what the device writes shows */
	return gpa;
}

/*
 * A new device with f's back end and the first `nr` of f's port names, on
 * f's guest memory, as virtio_device_attach leaves it: no driver setup, no
 * thread.  Used for f->dev, and for the devices a snapshot is restored into.
 */
static struct virtio_device *fx_attach(struct fx *f, unsigned nr)
{
	struct ember_err err = { "" };
	struct virtio_device *dev;
	struct virtio_ports_backend be = {
		.opaque = f,
		.guest_wrote = be_wrote,
		.guest_open = be_open,
		.can_send = be_can_send,
		.fd_ready = be_fd_ready,
	};

	if (virtio_ports_new(f->names, nr, &be, &dev, &err))
		fail_msg("virtio_ports_new: %s", err.msg);
	assert_int_equal(virtio_ports_watch(dev, f->job_fd), 0);
	dev->machine = &f->vm;
	pthread_mutex_init(&dev->lock, NULL);
	dev->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); /* to see that the driver is interrupted */
	assert_true(dev->irq_fd >= 0);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		dev->kick_fd[q] = q < dev->num_queues ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1;
		if (q < dev->num_queues)
			assert_true(dev->kick_fd[q] >= 0);
	}
	return dev;
}

static struct fx *fx_new(const char *const *names, unsigned nr)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct ember_err err = { "" };

	assert_non_null(f);
	f->nr = nr;
	f->names = names;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	struct guest_region layout = { .gpa = 0, .size = MEM_SIZE };
	if (guest_memory_create(&f->vm.mem, &layout, 1, &err))
		fail_msg("guest_memory_create: %s", err.msg);
	f->heap = HEAP_GPA;
	f->job_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(f->job_fd >= 0);
	f->dev = fx_attach(f, nr);

	/* What the driver's setup would have done. */
	struct virtio_device *dev = f->dev;
	dev->driver_features = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_CONSOLE_F_MULTIPORT);
	dev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		      VIRTIO_STATUS_DRIVER_OK;
	for (unsigned q = 0; q < dev->num_queues; q++) {
		struct virtq *vq = &dev->vq[q];
		vq->size = QSIZE;
		vq->desc_gpa = DESC_GPA(q);
		vq->avail_gpa = AVAIL_GPA(q);
		vq->used_gpa = USED_GPA(q);
		assert_int_equal(virtq_start(vq, &f->vm.mem, false, false), 0);
		vq->ready = true;
		/* Different heads on different queues, so that a head pushed on the wrong queue shows. */
		f->next_desc[q] = (uint16_t)((q * 7) % QSIZE);
	}
	if (dev->ops->start(dev, &err))
		fail_msg("start: %s", err.msg);
	return f;
}

static void fx_free(struct fx *f)
{
	/* Stops the I/O thread, frees the device, closes the kick and interrupt eventfds. */
	virtio_device_destroy(f->dev);
	close(f->job_fd);
	guest_memory_destroy(&f->vm.mem);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	char error[sizeof(f->cb_error)];
	memcpy(error, f->cb_error, sizeof(error));
	free(f);
	if (error[0])
		fail_msg("callback: %s", error);
}

/* ---- the guest driver's side ---------------------------------------------------- */

struct seg {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

static volatile struct virtq_desc *desc_at(struct fx *f, unsigned q, uint16_t i)
{
	volatile struct virtq_desc *table = gptr(f, DESC_GPA(q), 16 * QSIZE);
	return &table[i];
}

/* Writes a chain into queue q's descriptor table and makes it available (no kick); returns its head. */
static uint16_t post(struct fx *f, unsigned q, const struct seg *segs, unsigned n)
{
	uint16_t head = f->next_desc[q], i = head;

	/* Descriptors are never reused within a test: one still owned by the device stays intact. */
	f->descs_used[q] += n;
	assert_true(f->descs_used[q] <= QSIZE);
	for (unsigned k = 0; k < n; k++) {
		volatile struct virtq_desc *d = desc_at(f, q, i);
		uint16_t next = (uint16_t)((i + 1) % QSIZE);
		d->addr = segs[k].gpa;
		d->len = segs[k].len;
		d->flags = (uint16_t)((segs[k].writable ? VIRTQ_DESC_F_WRITE : 0) |
				      (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		d->next = next;
		i = next;
	}
	f->next_desc[q] = i;
	uint16_t *avail = gptr(f, AVAIL_GPA(q), 6 + 2 * QSIZE);
	avail[2 + f->avail_idx[q] % QSIZE] = head;
	f->avail_idx[q]++;
	__atomic_store_n(&avail[1], f->avail_idx[q], __ATOMIC_RELEASE);
	return head;
}

static void kick(struct fx *f, unsigned q)
{
	assert_int_equal(eventfd_write(f->dev->kick_fd[q], 1), 0);
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

static void wait_used(struct fx *f, unsigned q, uint16_t n)
{
	for (int i = 0; i < TIMEOUT_S * 1000 && used_idx(f, q) < n; i++)
		usleep(1000);
	if (used_idx(f, q) < n)
		fail_msg("queue %u: %u used within %d s, expected %u", q, used_idx(f, q), TIMEOUT_S, n);
}

/* Takes the device's interrupt: whether it raised one since the last call. */
static bool irq_raised(struct fx *f)
{
	eventfd_t count;
	return eventfd_read(f->dev->irq_fd, &count) == 0 && count > 0;
}

static bool needs_reset(struct fx *f)
{
	pthread_mutex_lock(&f->dev->lock);
	bool r = f->dev->status & VIRTIO_STATUS_NEEDS_RESET;
	pthread_mutex_unlock(&f->dev->lock);
	return r;
}

/* A guest buffer holding `len` bytes of `data`. */
static uint64_t gbytes(struct fx *f, const void *data, uint32_t len)
{
	uint64_t gpa = galloc(f, len);
	memcpy(gptr(f, gpa, len), data, len);
	return gpa;
}

/* Posts one control message on the control transmitq (not kicked); returns its head. */
static uint16_t ctl_post(struct fx *f, uint32_t id, uint16_t event, uint16_t value)
{
	uint8_t b[8] = { (uint8_t)id, (uint8_t)(id >> 8), (uint8_t)(id >> 16), (uint8_t)(id >> 24),
			 (uint8_t)event, (uint8_t)(event >> 8), (uint8_t)value, (uint8_t)(value >> 8) };
	struct seg s = { gbytes(f, b, 8), 8, false };
	return post(f, CONTROL_TX, &s, 1);
}

/* Sends a control message as the driver does, and waits until the device has returned it. */
static uint16_t ctl_send(struct fx *f, uint32_t id, uint16_t event, uint16_t value)
{
	uint16_t want = (uint16_t)(used_idx(f, CONTROL_TX) + 1);
	uint16_t head = ctl_post(f, id, event, value);
	kick(f, CONTROL_TX);
	wait_used(f, CONTROL_TX, want);
	struct virtq_used_elem e = used_elem(f, CONTROL_TX, (uint16_t)(want - 1));
	assert_int_equal(e.id, head);
	assert_int_equal(e.len, 0); /* nothing written into a transmit buffer */
	return head;
}

/* Gives the device n receive buffers of `len` bytes on queue q, kicked. */
static void give_buffers(struct fx *f, unsigned q, unsigned n, uint32_t len, uint16_t *heads)
{
	for (unsigned i = 0; i < n; i++) {
		struct seg s = { galloc(f, len), len, true };
		uint16_t h = post(f, q, &s, 1);
		if (heads)
			heads[i] = h;
	}
	kick(f, q);
}

struct ctl {
	uint32_t id;
	uint16_t event, value;
	uint32_t len;          /* bytes the device wrote */
	char name[128];        /* PORT_NAME: the bytes after the header, NUL added here */
};

/* The next control message the device put on the control receiveq (waits for it). */
static struct ctl next_ctl(struct fx *f)
{
	wait_used(f, CONTROL_RX, (uint16_t)(f->ctl_seen + 1));
	struct virtq_used_elem e = used_elem(f, CONTROL_RX, f->ctl_seen++);
	volatile struct virtq_desc *d = desc_at(f, CONTROL_RX, (uint16_t)e.id);
	struct ctl c = { .len = e.len };
	assert_true(e.len >= 8 && e.len <= d->len && e.len - 8 < sizeof(c.name));
	const uint8_t *p = gptr(f, d->addr, e.len);
	c.id = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	c.event = (uint16_t)(p[4] | p[5] << 8);
	c.value = (uint16_t)(p[6] | p[7] << 8);
	memcpy(c.name, p + 8, e.len - 8);
	return c;
}

static void expect_ctl(struct fx *f, uint32_t id, uint16_t event, uint16_t value)
{
	struct ctl c = next_ctl(f);
	if (c.id != id || c.event != event || c.value != value || c.len != 8)
		fail_msg("control message (%u, %u, %u) of %u bytes, expected (%u, %u, %u)", c.id,
			 c.event, c.value, c.len, id, event, value);
}

/* Nothing more on the control receiveq (it has buffers: the device could have used them). */
static void expect_no_ctl(struct fx *f)
{
	sync_io(f);
	assert_int_equal(used_idx(f, CONTROL_RX), f->ctl_seen);
}

static void expect_name(struct fx *f, unsigned port)
{
	struct ctl c = next_ctl(f);
	assert_int_equal(c.id, port);
	assert_int_equal(c.event, PORT_NAME);
	/* The exact name after the header, no NUL: Linux adds its own. */
	assert_int_equal(c.len, 8 + strlen(f->names[port]));
	assert_string_equal(c.name, f->names[port]);
}

/*
 * What Linux does at probe: buffers on the control receiveq, DEVICE_READY,
 * then PORT_READY for each port the device adds; the guest opens the
 * ports in `open_mask`.  The back end's record is cleared afterwards.
 */
static void bring_up(struct fx *f, unsigned open_mask)
{
	give_buffers(f, CONTROL_RX, 16, 128, NULL);
	ctl_send(f, 0, DEVICE_READY, 1);
	for (unsigned p = 0; p < f->nr; p++)
		expect_ctl(f, p, DEVICE_ADD, 0);
	for (unsigned p = 0; p < f->nr; p++) {
		ctl_send(f, p, PORT_READY, 1);
		expect_name(f, p);
		expect_ctl(f, p, PORT_OPEN, 1); /* the host end is open */
	}
	unsigned n = 0;
	for (unsigned p = 0; p < f->nr; p++)
		if (open_mask & (1u << p)) {
			ctl_send(f, p, PORT_OPEN, 1);
			wait_events(f, ++n);
		}
	sync_io(f);
	assert_int_equal(nevents(f), n);
	clear_events(f);
	irq_raised(f);
}

/* ---- hooks (I/O thread, device lock held) -------------------------------------------- */

static void hook_send(struct fx *f, unsigned port, bool open)
{
	(void)open;
	if (port == f->hook_port)
		f->hook_sent = virtio_ports_send(f->dev, port, f->hook_data, f->hook_len);
}

static void hook_close(struct fx *f, unsigned port, bool open)
{
	(void)port;
	(void)open;
	virtio_ports_close(f->dev, f->close_port);
}

static void job_close_port(struct fx *f)
{
	virtio_ports_close(f->dev, f->hook_port);
}

static void job_send(struct fx *f)
{
	f->hook_sent = virtio_ports_send(f->dev, f->hook_port, f->hook_data, f->hook_len);
}

static void job_guest_open(struct fx *f)
{
	f->guest_open_now = virtio_ports_guest_open(f->dev, f->hook_port);
}

/* ---- identity, config space, construction ------------------------------------------ */

static void config_space_has_the_port_count(void **state)
{
	struct ember_err err = { "" };
	struct virtio_ports_backend be = { 0 };

	(void)state;
	for (unsigned nr = 3; nr <= 4; nr++) {
		struct virtio_device *dev;
		assert_int_equal(virtio_ports_new(names4, nr, &be, &dev, &err), 0);
		assert_int_equal(dev->device_id, VIRTIO_ID_CONSOLE);
		assert_int_equal(dev->num_queues, 2 + 2 * nr);
		assert_true(dev->features & (1ULL << VIRTIO_CONSOLE_F_MULTIPORT));
		for (unsigned q = 0; q < dev->num_queues; q++)
			assert_int_equal(dev->queue_service[q], VIRTIO_QUEUE_ON_WORKER);
		assert_true(dev->config_size >= 8);
		uint8_t cfg[4];
		memset(cfg, 0xff, sizeof(cfg));
		dev->ops->config_read(dev, 4, cfg, 4); /* le32 max_nr_ports */
		assert_int_equal(cfg[0] | cfg[1] << 8 | cfg[2] << 16 | (uint32_t)cfg[3] << 24, nr);
		memset(cfg, 0xff, sizeof(cfg));
		dev->ops->config_read(dev, 0, cfg, 4); /* cols, rows: no VIRTIO_CONSOLE_F_SIZE */
		assert_int_equal(cfg[0] | cfg[1] | cfg[2] | cfg[3], 0);
		dev->ops->destroy(dev); /* never started: the worker has no thread to stop */
	}
}

static void new_rejects_bad_port_sets(void **state)
{
	struct ember_err err = { "" };
	struct virtio_ports_backend be = { 0 };
	struct virtio_device *dev = NULL;
	const char *many[VIRTIO_PORTS_MAX + 1];
	char name63[64], name64[65];

	(void)state;
	for (unsigned i = 0; i <= VIRTIO_PORTS_MAX; i++)
		many[i] = "p";
	memset(name63, 'n', 63);
	name63[63] = '\0';
	memset(name64, 'n', 64);
	name64[64] = '\0';

	assert_int_equal(virtio_ports_new(many, 0, &be, &dev, &err), -EINVAL);
	assert_true(err.msg[0]);
	err.msg[0] = '\0';
	assert_int_equal(virtio_ports_new(many, VIRTIO_PORTS_MAX + 1, &be, &dev, &err), -EINVAL);
	assert_true(err.msg[0]);
	err.msg[0] = '\0';
	const char *long_name[] = { "ok", name64 };
	assert_int_equal(virtio_ports_new(long_name, 2, &be, &dev, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "too long"));
	assert_null(dev);

	/* The limits themselves are fine: 63 bytes, VIRTIO_PORTS_MAX ports (every queue used). */
	many[VIRTIO_PORTS_MAX - 1] = name63;
	assert_int_equal(virtio_ports_new(many, VIRTIO_PORTS_MAX, &be, &dev, &err), 0);
	assert_int_equal(dev->num_queues, VIRTIO_MAX_QUEUES);
	dev->ops->destroy(dev);
}

/* ---- the control protocol ---------------------------------------------------------- */

static void device_ready_adds_ports_as_buffers_allow(void **state)
{
	struct fx *f = fx_new(names4, 4);

	(void)state;
	/* Room for two messages only: two DEVICE_ADD now, the rest wait. */
	give_buffers(f, CONTROL_RX, 2, 128, NULL);
	ctl_send(f, 0, DEVICE_READY, 1);
	expect_ctl(f, 0, DEVICE_ADD, 0);
	expect_ctl(f, 1, DEVICE_ADD, 0);
	sync_io(f);
	assert_int_equal(used_idx(f, CONTROL_RX), 2);
	assert_true(irq_raised(f));
	/* More buffers (kicked): the rest come, in order, and nothing else. */
	give_buffers(f, CONTROL_RX, 4, 128, NULL);
	expect_ctl(f, 2, DEVICE_ADD, 0);
	expect_ctl(f, 3, DEVICE_ADD, 0);
	assert_true(irq_raised(f));
	expect_no_ctl(f);
	/* DEVICE_READY(0): the driver failed to set up; nothing to add. */
	ctl_send(f, 0, DEVICE_READY, 0);
	expect_no_ctl(f);
	assert_int_equal(nevents(f), 0);
	fx_free(f);
}

static void port_ready_gets_name_then_open(void **state)
{
	char name63[64];
	memset(name63, 'x', 63);
	name63[0] = 'Z';
	name63[62] = 'A';
	name63[63] = '\0';
	const char *const names[] = { "org.ember.control", "a b", name63 };
	struct fx *f = fx_new(names, 3);

	(void)state;
	give_buffers(f, CONTROL_RX, 16, 128, NULL);
	ctl_send(f, 0, DEVICE_READY, 1);
	for (unsigned p = 0; p < 3; p++)
		expect_ctl(f, p, DEVICE_ADD, 0);
	for (unsigned p = 0; p < 3; p++) {
		ctl_send(f, p, PORT_READY, 1);
		expect_name(f, p);
		expect_ctl(f, p, PORT_OPEN, 1);
	}
	/* PORT_READY again, or a failed one (value 0): no second name. */
	ctl_send(f, 1, PORT_READY, 1);
	ctl_send(f, 2, PORT_READY, 0);
	expect_no_ctl(f);
	/* The guest did not open anything: the host end's state is no guest_open event. */
	assert_int_equal(nevents(f), 0);
	fx_free(f);
}

static void guest_open_is_reported_once_per_change(void **state)
{
	struct fx *f = fx_new(names4, 4);

	(void)state;
	give_buffers(f, CONTROL_RX, 16, 128, NULL);
	ctl_send(f, 0, DEVICE_READY, 1);
	for (unsigned p = 0; p < 4; p++)
		expect_ctl(f, p, DEVICE_ADD, 0);
	/* Before PORT_READY the port is not the guest's yet: an open means nothing. */
	ctl_send(f, 2, PORT_OPEN, 1);
	sync_io(f);
	assert_int_equal(nevents(f), 0);

	ctl_send(f, 2, PORT_READY, 1);
	expect_name(f, 2);
	expect_ctl(f, 2, PORT_OPEN, 1);
	ctl_send(f, 2, PORT_OPEN, 1);
	ctl_send(f, 2, PORT_OPEN, 1); /* no change */
	f->hook_port = 2;
	run_on_io(f, job_guest_open);
	assert_true(f->guest_open_now);
	ctl_send(f, 2, PORT_OPEN, 0);
	ctl_send(f, 2, PORT_OPEN, 0); /* no change */
	run_on_io(f, job_guest_open);
	assert_false(f->guest_open_now);
	ctl_send(f, 2, PORT_OPEN, 7); /* any non-zero value is open */
	sync_io(f);

	assert_int_equal(nevents(f), 3);
	const bool want[] = { true, false, true };
	for (unsigned i = 0; i < 3; i++) {
		struct event e = event_at(f, i);
		assert_int_equal(e.kind, EV_OPEN);
		assert_int_equal(e.port, 2);
		assert_int_equal(e.open, want[i]);
	}
	fx_free(f);
}

/* ---- data ------------------------------------------------------------------------ */

static void pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed * 13 + (i >> 8));
}

static void guest_writes_reach_the_back_end(void **state)
{
	struct fx *f = fx_new(names4, 4);
	uint8_t data[5000];

	(void)state;
	bring_up(f, 0); /* writing needs no open: Linux checks that, not the device */
	pattern(data, sizeof(data), 3);
	/* Port 2 (tx queue 7): one chain of three readable buffers, then a device-writable one. */
	struct seg segs[] = {
		{ gbytes(f, data, 100), 100, false },
		{ gbytes(f, data + 100, 1), 1, false },
		{ gbytes(f, data + 101, 3899), 3899, false },
		{ galloc(f, 64), 64, true }, /* not the guest's data: never handed on */
	};
	uint16_t head2 = post(f, tx_q(2), segs, 4);
	/* Port 0 (tx queue 1) has its own numbering. */
	struct seg s0 = { gbytes(f, "hello port 0", 12), 12, false };
	uint16_t head0 = post(f, tx_q(0), &s0, 1);
	kick(f, tx_q(2));
	kick(f, tx_q(0));
	wait_used(f, tx_q(2), 1);
	wait_used(f, tx_q(0), 1);
	sync_io(f);

	struct virtq_used_elem e = used_elem(f, tx_q(2), 0);
	assert_int_equal(e.id, head2);
	assert_int_equal(e.len, 0);
	e = used_elem(f, tx_q(0), 0);
	assert_int_equal(e.id, head0);
	assert_int_equal(e.len, 0);
	assert_true(irq_raised(f));
	pthread_mutex_lock(&f->lock);
	assert_int_equal(f->wrote_len[2], 4000);
	assert_memory_equal(f->wrote[2], data, 4000);
	assert_int_equal(f->wrote_len[0], 12);
	assert_memory_equal(f->wrote[0], "hello port 0", 12);
	assert_int_equal(f->wrote_len[1] + f->wrote_len[3], 0);
	for (unsigned i = 0; i < f->nev; i++)
		assert_int_equal(f->ev[i].kind, EV_WROTE);
	pthread_mutex_unlock(&f->lock);
	/* Nothing was used on the other queues (receive queues, other ports). */
	for (unsigned q = 0; q < f->dev->num_queues; q++)
		if (q != tx_q(2) && q != tx_q(0) && q != CONTROL_TX && q != CONTROL_RX)
			assert_int_equal(used_idx(f, q), 0);
	fx_free(f);
}

static void send_waits_for_the_guest_to_open(void **state)
{
	struct fx *f = fx_new(names4, 4);
	uint8_t data[40];
	uint16_t heads[3];

	(void)state;
	bring_up(f, 0);
	pattern(data, sizeof(data), 5);
	f->hook_port = 2;
	f->hook_data = data;
	f->hook_len = sizeof(data);
	f->on_can_send = hook_send;

	/* Buffers, but the guest has not opened the port: Linux would throw the data away. */
	give_buffers(f, rx_q(2), 3, 16, heads);
	wait_events(f, 1);
	struct event e = event_at(f, 0);
	assert_int_equal(e.kind, EV_CAN_SEND);
	assert_int_equal(e.port, 2);
	assert_int_equal(e.n, 0);
	sync_io(f);
	assert_int_equal(used_idx(f, rx_q(2)), 0);

	ctl_send(f, 2, PORT_OPEN, 1);
	wait_events(f, 2);
	kick(f, rx_q(2)); /* as if the driver had added buffers */
	wait_events(f, 3);
	e = event_at(f, 2);
	assert_int_equal(e.kind, EV_CAN_SEND);
	assert_int_equal(e.n, 40);
	/* 40 bytes over three 16-byte buffers, in the order they were given. */
	assert_int_equal(used_idx(f, rx_q(2)), 3);
	const uint32_t lens[] = { 16, 16, 8 };
	size_t off = 0;
	for (uint16_t i = 0; i < 3; i++) {
		struct virtq_used_elem u = used_elem(f, rx_q(2), i);
		assert_int_equal(u.id, heads[i]);
		assert_int_equal(u.len, lens[i]);
		assert_memory_equal(gptr(f, desc_at(f, rx_q(2), heads[i])->addr, lens[i]), data + off,
				    lens[i]);
		off += lens[i];
	}
	assert_true(irq_raised(f));

	/* No buffers left: nothing taken. */
	kick(f, rx_q(2));
	wait_events(f, 4);
	assert_int_equal(event_at(f, 3).n, 0);
	f->on_can_send = NULL; /* read before event 3 was recorded: the thread is done with it */
	/* Port 0's receive queue is queue 0; a 100-byte send into one 64-byte buffer takes 64. */
	ctl_send(f, 0, PORT_OPEN, 1);
	uint16_t h0;
	give_buffers(f, rx_q(0), 1, 64, &h0);
	f->hook_port = 0;
	uint8_t more[100];
	pattern(more, sizeof(more), 9);
	f->hook_data = more;
	f->hook_len = sizeof(more);
	run_on_io(f, job_send);
	assert_int_equal(f->hook_sent, 64);
	assert_int_equal(used_idx(f, rx_q(0)), 1);
	assert_int_equal(used_elem(f, rx_q(0), 0).id, h0);
	assert_int_equal(used_elem(f, rx_q(0), 0).len, 64);
	assert_memory_equal(gptr(f, desc_at(f, rx_q(0), h0)->addr, 64), more, 64);
	/* Receive queues of other ports untouched. */
	assert_int_equal(used_idx(f, rx_q(1)) + used_idx(f, rx_q(3)), 0);
	fx_free(f);
}

static void host_close_tells_the_guest(void **state)
{
	struct fx *f = fx_new(names4, 4);
	uint8_t data[8] = "12345678";

	(void)state;
	bring_up(f, 1u << 1);
	give_buffers(f, rx_q(1), 2, 16, NULL);
	f->hook_port = 1;
	run_on_io(f, job_close_port);
	expect_ctl(f, 1, PORT_OPEN, 0);
	assert_true(irq_raised(f));
	/* Closed on our side: nothing more is sent, though the guest has buffers and the port open. */
	f->hook_data = data;
	f->hook_len = sizeof(data);
	run_on_io(f, job_send);
	assert_int_equal(f->hook_sent, 0);
	assert_int_equal(used_idx(f, rx_q(1)), 0);
	/* Closing twice says it once. */
	run_on_io(f, job_close_port);
	expect_no_ctl(f);
	fx_free(f);
}

static void host_close_before_port_ready(void **state)
{
	struct fx *f = fx_new(names4, 4);

	(void)state;
	give_buffers(f, CONTROL_RX, 16, 128, NULL);
	ctl_send(f, 0, DEVICE_READY, 1);
	for (unsigned p = 0; p < 4; p++)
		expect_ctl(f, p, DEVICE_ADD, 0);
	/* Closed before the guest has the port: nothing to tell yet... */
	f->hook_port = 3;
	run_on_io(f, job_close_port);
	expect_no_ctl(f);
	/* ...and when it comes, the port is named but never opened from our side. */
	ctl_send(f, 3, PORT_READY, 1);
	expect_name(f, 3);
	expect_no_ctl(f);
	fx_free(f);
}

/*
 * The guest writes its last output on stdout (port 2), then its exit
 * status on the command channel (port 0), and the kicks arrive the other
 * way round.  ember must see the output before the status: on the status
 * it may end the VM.
 */
static void data_before_a_later_message_whatever_the_kicks(void **state)
{
	struct fx *f = fx_new(names4, 4);

	(void)state;
	bring_up(f, 0);
	struct seg out = { gbytes(f, "last output", 11), 11, false };
	struct seg exit_msg = { gbytes(f, "EXIT", 4), 4, false };
	post(f, tx_q(2), &out, 1);
	post(f, tx_q(0), &exit_msg, 1);
	kick(f, tx_q(0));
	kick(f, tx_q(2));
	wait_events(f, 2);
	struct event first = event_at(f, 0), second = event_at(f, 1);
	assert_int_equal(first.kind, EV_WROTE);
	assert_int_equal(second.kind, EV_WROTE);
	if (first.port != 2 || second.port != 0)
		fail_msg("guest_wrote on port %u then %u: the output must come first", first.port,
			 second.port);
	fx_free(f);
}

/* The guest writes on a port, then closes it (PORT_OPEN 0 on the control transmitq). */
static void data_before_the_guest_closes(void **state)
{
	struct fx *f = fx_new(names4, 4);

	(void)state;
	bring_up(f, 1u << 3);
	struct seg err = { gbytes(f, "error text", 10), 10, false };
	post(f, tx_q(3), &err, 1);
	ctl_post(f, 3, PORT_OPEN, 0);
	kick(f, CONTROL_TX);
	kick(f, tx_q(3));
	wait_events(f, 2);
	struct event first = event_at(f, 0), second = event_at(f, 1);
	assert_int_equal(first.kind, EV_WROTE);
	assert_int_equal(first.port, 3);
	assert_int_equal(second.kind, EV_OPEN);
	assert_int_equal(second.port, 3);
	assert_false(second.open);
	fx_free(f);
}

/*
 * Regression: a back end that sends from guest_open (the stdin port opens:
 * ember pushes what it has) while the control transmitq chain carrying
 * that PORT_OPEN is being served.  The send takes a receive chain; the
 * control chain must still be returned under its own head, or the driver
 * frees the wrong buffer and waits for its control message forever.
 */
static void send_from_guest_open_keeps_the_control_head(void **state)
{
	struct fx *f = fx_new(names4, 4);

	(void)state;
	bring_up(f, 0);
	/* Heads that differ, so that one pushed for the other shows. */
	f->next_desc[rx_q(1)] = 40;
	struct seg rx = { galloc(f, 32), 32, true };
	uint16_t rx_head = post(f, rx_q(1), &rx, 1); /* not kicked: the send comes from guest_open */
	f->hook_port = 1;
	f->hook_data = (const uint8_t *)"stdin bytes";
	f->hook_len = 11;
	f->on_open = hook_send;

	uint16_t before = used_idx(f, CONTROL_TX);
	uint16_t ctl_head = ctl_post(f, 1, PORT_OPEN, 1);
	assert_int_not_equal(ctl_head, rx_head);
	kick(f, CONTROL_TX);
	wait_used(f, CONTROL_TX, (uint16_t)(before + 1));
	sync_io(f);
	assert_int_equal(used_idx(f, CONTROL_TX), before + 1);
	struct virtq_used_elem e = used_elem(f, CONTROL_TX, before);
	assert_int_equal(e.id, ctl_head);
	assert_int_equal(e.len, 0);
	assert_int_equal(f->hook_sent, 11);
	assert_int_equal(used_idx(f, rx_q(1)), 1);
	e = used_elem(f, rx_q(1), 0);
	assert_int_equal(e.id, rx_head);
	assert_int_equal(e.len, 11);
	assert_memory_equal(gptr(f, rx.gpa, 11), "stdin bytes", 11);
	fx_free(f);
}

/* The same for a send (echo) and a close from guest_wrote while a data chain is being served. */
static void callbacks_during_a_data_chain_keep_its_head(void **state)
{
	struct fx *f = fx_new(names4, 4);

	(void)state;
	bring_up(f, 1u << 2);
	f->next_desc[rx_q(2)] = 50;
	struct seg rx = { galloc(f, 32), 32, true };
	uint16_t rx_head = post(f, rx_q(2), &rx, 1);
	f->hook_port = 2;
	f->hook_data = (const uint8_t *)"echo";
	f->hook_len = 4;
	f->on_wrote = hook_send;
	struct seg tx = { gbytes(f, "ping", 4), 4, false };
	uint16_t tx_head = post(f, tx_q(2), &tx, 1);
	assert_int_not_equal(tx_head, rx_head);
	kick(f, tx_q(2));
	wait_used(f, tx_q(2), 1);
	sync_io(f);
	assert_int_equal(used_elem(f, tx_q(2), 0).id, tx_head);
	assert_int_equal(used_idx(f, rx_q(2)), 1);
	assert_int_equal(used_elem(f, rx_q(2), 0).id, rx_head);
	assert_int_equal(used_elem(f, rx_q(2), 0).len, 4);
	assert_memory_equal(gptr(f, rx.gpa, 4), "echo", 4);

	/* A close from guest_wrote flushes a control message while the data chain is being served. */
	f->on_wrote = hook_close;
	f->close_port = 1;
	struct seg tx2 = { gbytes(f, "bye", 3), 3, false };
	uint16_t tx2_head = post(f, tx_q(2), &tx2, 1);
	kick(f, tx_q(2));
	wait_used(f, tx_q(2), 2);
	expect_ctl(f, 1, PORT_OPEN, 0); /* read through the head the device gave: the right buffer */
	sync_io(f);
	assert_int_equal(used_idx(f, tx_q(2)), 2);
	assert_int_equal(used_elem(f, tx_q(2), 1).id, tx2_head);
	fx_free(f);
}

/* ---- a hostile driver ------------------------------------------------------------ */

static void short_control_message_is_returned_unread(void **state)
{
	struct fx *f = fx_new(names4, 4);

	(void)state;
	bring_up(f, 0);
	uint16_t before = used_idx(f, CONTROL_TX);
	uint8_t msg[8] = { 1, 0, 0, 0, PORT_OPEN, 0, 1, 0 };
	struct seg s = { gbytes(f, msg, 7), 7, false };
	uint16_t head = post(f, CONTROL_TX, &s, 1);
	kick(f, CONTROL_TX);
	wait_used(f, CONTROL_TX, (uint16_t)(before + 1));
	assert_int_equal(used_elem(f, CONTROL_TX, before).id, head);
	assert_int_equal(used_elem(f, CONTROL_TX, before).len, 0);
	sync_io(f);
	assert_int_equal(nevents(f), 0);
	assert_false(needs_reset(f));
	/* Split over two buffers, the same 8 bytes are a message: only the total counts. */
	struct seg split[] = { { gbytes(f, msg, 3), 3, false }, { gbytes(f, msg + 3, 5), 5, false } };
	post(f, CONTROL_TX, split, 2);
	kick(f, CONTROL_TX);
	wait_events(f, 1);
	assert_int_equal(event_at(f, 0).kind, EV_OPEN);
	assert_int_equal(event_at(f, 0).port, 1);
	assert_true(event_at(f, 0).open);
	fx_free(f);
}

static void unknown_port_ids_are_ignored(void **state)
{
	struct fx *f = fx_new(names4, 4);

	(void)state;
	bring_up(f, 0);
	const uint32_t ids[] = { 4, 7, 1000, 0xffffffffu };
	for (unsigned i = 0; i < 4; i++) {
		ctl_send(f, ids[i], PORT_READY, 1);
		ctl_send(f, ids[i], PORT_OPEN, 1);
		ctl_send(f, ids[i], PORT_NAME, 1); /* the device's to send, not the driver's */
	}
	expect_no_ctl(f);
	assert_int_equal(nevents(f), 0);
	assert_false(needs_reset(f));
	fx_free(f);
}

static void device_ready_flood_needs_reset(void **state)
{
	struct fx *f = fx_new(names4, 4);

	(void)state;
	/*
	 * No control receive buffers: each DEVICE_READY queues four DEVICE_ADD.
	 * 16 of them fill the device's outbox (64 messages) and are kept...
	 */
	for (unsigned i = 0; i < 16; i++)
		ctl_post(f, 0, DEVICE_READY, 1);
	kick(f, CONTROL_TX);
	wait_used(f, CONTROL_TX, 16);
	sync_io(f);
	assert_false(needs_reset(f));
	/* ...one more is a driver that never reads: NEEDS_RESET, not a growing queue. */
	ctl_post(f, 0, DEVICE_READY, 1);
	kick(f, CONTROL_TX);
	wait_used(f, CONTROL_TX, 17);
	sync_io(f);
	assert_true(needs_reset(f));
	/* The driver learns through a configuration change interrupt (§2.1.2). */
	assert_true(atomic_load(&f->dev->interrupt_status) & 2);
	assert_true(irq_raised(f));
	fx_free(f);
}

static void descriptor_outside_memory_needs_reset(void **state)
{
	struct fx *f = fx_new(names4, 4);

	(void)state;
	bring_up(f, 1u << 1);
	struct seg bad = { MEM_SIZE - 8, 16, false }; /* crosses the end of guest RAM */
	post(f, tx_q(1), &bad, 1);
	kick(f, tx_q(1));
	for (int i = 0; i < TIMEOUT_S * 1000 && !needs_reset(f); i++)
		usleep(1000);
	assert_true(needs_reset(f));
	sync_io(f);
	assert_int_equal(nevents(f), 0);
	/* Not live any more: no queue is served, nothing is sent. */
	struct seg good = { gbytes(f, "x", 1), 1, false };
	post(f, tx_q(2), &good, 1);
	kick(f, tx_q(2));
	give_buffers(f, rx_q(1), 1, 16, NULL);
	f->hook_port = 1;
	f->hook_data = (const uint8_t *)"y";
	f->hook_len = 1;
	run_on_io(f, job_send);
	assert_int_equal(f->hook_sent, 0);
	assert_int_equal(nevents(f), 0);
	assert_int_equal(used_idx(f, tx_q(2)) + used_idx(f, rx_q(1)), 0);
	fx_free(f);
}

/* ---- snapshots (virtio/snapshot.c with ports_save/ports_restore) --------------------------- */

#define SNAP_SLOT 2

static void snap_path(char *path, size_t size)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(path, size, "%s/ember-ports-snap-%ld", tmp, (long)getpid());
}

static void write_state(struct snapshot_writer *w, const char *path)
{
	struct ember_err err = { "" };
	if (snapshot_write_file(w, "test", path, &err))
		fail_msg("snapshot_write_file: %s", err.msg);
	snapshot_writer_free(w);
}

static void read_state(struct snapshot_reader *r, const char *path)
{
	struct ember_err err = { "" };
	if (snapshot_read_file(r, path, "test", &err))
		fail_msg("snapshot_read_file: %s", err.msg);
}

/*
 * Saves f->dev with its transport into the state file at `path`, as a
 * paused VM would be: the I/O thread idle (sync_io), nothing in flight.
 */
static void save_ports(struct fx *f, const char *path)
{
	struct virtio_mmio t;
	struct snapshot_writer w = { 0 };
	struct ember_err err = { "" };

	sync_io(f);
	virtio_mmio_init(&t, f->dev);
	if (virtio_mmio_save(&t, SNAP_SLOT, &w, &err))
		fail_msg("virtio_mmio_save: %s", err.msg);
	write_state(&w, path);
}

/* Restores the state file into a brand-new device of `nr` ports (not started); 0 or -errno. */
static int restore_ports(struct fx *f, unsigned nr, const char *path, struct virtio_device **out,
			 struct ember_err *err)
{
	struct virtio_mmio t;
	struct snapshot_reader r;

	*out = fx_attach(f, nr);
	virtio_mmio_init(&t, *out);
	read_state(&r, path);
	int rc = virtio_mmio_restore(&t, SNAP_SLOT, &r, err);
	snapshot_reader_free(&r);
	return rc;
}

/* What job_guest_open says for each port, as a bit mask. */
static unsigned guest_open_mask(struct fx *f)
{
	unsigned mask = 0;
	for (unsigned p = 0; p < f->nr; p++) {
		f->hook_port = p;
		run_on_io(f, job_guest_open);
		mask |= (unsigned)f->guest_open_now << p;
	}
	return mask;
}

/*
 * A device in the middle of things is saved, destroyed, and restored into
 * a new one on the same guest memory, as a restored VM has it: ports 0 and
 * 2 open in the guest, 1 ready but closed, 3 closed on the host side, and
 * control messages the driver had no buffers for.  The new device carries
 * on where the old one stopped, without telling the back end anything.
 */
static void restored_ports_carry_on(void **state)
{
	struct fx *f = fx_new(names4, 4);
	struct ember_err err = { "" };
	char path[128];
	uint8_t data[32];
	uint16_t rx0[2], rx1;

	(void)state;
	snap_path(path, sizeof(path));
	pattern(data, sizeof(data), 11);
	/* Linux's probe, with control buffers for ports 0-2 only: 4 DEVICE_ADD, a name and an open each. */
	give_buffers(f, CONTROL_RX, 4 + 3 * 2, 128, NULL);
	ctl_send(f, 0, DEVICE_READY, 1);
	for (unsigned p = 0; p < 4; p++)
		expect_ctl(f, p, DEVICE_ADD, 0);
	for (unsigned p = 0; p < 3; p++) {
		ctl_send(f, p, PORT_READY, 1);
		expect_name(f, p);
		expect_ctl(f, p, PORT_OPEN, 1);
	}
	ctl_send(f, 0, PORT_OPEN, 1);
	ctl_send(f, 2, PORT_OPEN, 1);
	wait_events(f, 2);
	/* No control buffers left: from here on, messages wait in the device's outbox. */
	ctl_send(f, 3, PORT_READY, 1);   /* PORT_NAME(3), PORT_OPEN(3, 1) */
	f->hook_port = 3;
	run_on_io(f, job_close_port);     /* PORT_OPEN(3, 0), from a callback */
	ctl_send(f, 0, DEVICE_READY, 1); /* DEVICE_ADD(0..3) again */
	sync_io(f);
	assert_int_equal(used_idx(f, CONTROL_RX), f->ctl_seen);
	assert_false(needs_reset(f));

	/* Port 0 took one of two receive buffers; port 1 has one, unused (the guest has it closed). */
	give_buffers(f, rx_q(0), 2, 32, rx0);
	give_buffers(f, rx_q(1), 1, 32, &rx1);
	f->hook_port = 0;
	f->hook_data = data;
	f->hook_len = 20;
	run_on_io(f, job_send);
	assert_int_equal(f->hook_sent, 20);
	f->hook_port = 1;
	run_on_io(f, job_send);
	assert_int_equal(f->hook_sent, 0);
	/* The guest wrote once on port 2. */
	struct seg before = { gbytes(f, "before", 6), 6, false };
	post(f, tx_q(2), &before, 1);
	kick(f, tx_q(2));
	wait_used(f, tx_q(2), 1);
	assert_int_equal(guest_open_mask(f), (1u << 0) | (1u << 2));

	save_ports(f, path);
	virtio_device_destroy(f->dev); /* the old process is gone */
	f->dev = NULL;
	clear_events(f);

	struct virtio_device *dev;
	if (restore_ports(f, 4, path, &dev, &err))
		fail_msg("virtio_mmio_restore: %s", err.msg);
	f->dev = dev;
	/* Before its thread starts, as the back end takes the device over: what the guest has open. */
	for (unsigned p = 0; p < 4; p++)
		assert_int_equal(virtio_ports_guest_open(dev, p), p == 0 || p == 2);
	if (dev->ops->start(dev, &err))
		fail_msg("start: %s", err.msg);
	assert_int_equal(guest_open_mask(f), (1u << 0) | (1u << 2));
	/* The back end was not called back: no guest_open, nothing written (can_send may come). */
	for (unsigned i = 0; i < nevents(f); i++)
		assert_int_equal(event_at(f, i).kind, EV_CAN_SEND);
	assert_false(needs_reset(f));

	/* Port 0: open without the guest saying so again; the data lands in the next used slot. */
	f->hook_port = 0;
	f->hook_data = data + 20;
	f->hook_len = 12;
	irq_raised(f);
	run_on_io(f, job_send);
	assert_int_equal(f->hook_sent, 12);
	assert_int_equal(used_idx(f, rx_q(0)), 2);
	assert_int_equal(used_elem(f, rx_q(0), 0).id, rx0[0]);
	assert_int_equal(used_elem(f, rx_q(0), 1).id, rx0[1]);
	assert_int_equal(used_elem(f, rx_q(0), 1).len, 12);
	assert_memory_equal(gptr(f, desc_at(f, rx_q(0), rx0[1])->addr, 12), data + 20, 12);
	assert_true(irq_raised(f)); /* through the new device's interrupt */
	/* Port 1: still closed in the guest, its buffer untouched. */
	f->hook_port = 1;
	run_on_io(f, job_send);
	assert_int_equal(f->hook_sent, 0);
	assert_int_equal(used_idx(f, rx_q(1)), 0);

	/* Control buffers at last: the outbox, in the order it was filled, and nothing more. */
	give_buffers(f, CONTROL_RX, 8, 128, NULL);
	expect_name(f, 3);
	expect_ctl(f, 3, PORT_OPEN, 1);
	expect_ctl(f, 3, PORT_OPEN, 0);
	for (unsigned p = 0; p < 4; p++)
		expect_ctl(f, p, DEVICE_ADD, 0);
	expect_no_ctl(f);
	/* Port 3's host end is still closed: closing it again says nothing (a buffer is spare). */
	f->hook_port = 3;
	run_on_io(f, job_close_port);
	expect_no_ctl(f);

	/* Port 2: the guest writes, the back end gets it; the used ring goes on from 1. */
	struct seg after = { gbytes(f, "after restore", 13), 13, false };
	uint16_t head = post(f, tx_q(2), &after, 1);
	kick(f, tx_q(2));
	wait_used(f, tx_q(2), 2);
	assert_int_equal(used_elem(f, tx_q(2), 1).id, head);
	sync_io(f);
	pthread_mutex_lock(&f->lock);
	assert_int_equal(f->wrote_len[2], 13);
	assert_memory_equal(f->wrote[2], "after restore", 13);
	pthread_mutex_unlock(&f->lock);
	/* The guest closing port 2 is a change from the restored state: reported. */
	unsigned n = nevents(f);
	ctl_send(f, 2, PORT_OPEN, 0);
	wait_events(f, n + 1);
	struct event e = event_at(f, n);
	assert_int_equal(e.kind, EV_OPEN);
	assert_int_equal(e.port, 2);
	assert_false(e.open);
	fx_free(f);
	unlink(path);
}

/* A state that does not fit the device it is restored into is refused, with a message. */
static void ports_restore_refuses_misfits(void **state)
{
	struct fx *f = fx_new(names4, 4);
	struct ember_err err = { "" };
	struct virtio_device *dev;
	struct snapshot_reader r;
	char path[128];

	(void)state;
	snap_path(path, sizeof(path));
	bring_up(f, 1u << 0);
	save_ports(f, path);

	/* It fits a device like the one saved (so what follows is refused for its misfit alone). */
	assert_int_equal(restore_ports(f, 4, path, &dev, &err), 0);
	assert_true(virtio_ports_guest_open(dev, 0));
	virtio_device_destroy(dev);

	/* Three ports, not four: the transport sees other queues... */
	err.msg[0] = '\0';
	assert_int_equal(restore_ports(f, 3, path, &dev, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "virtio-console"));
	/* ...and the device's own state says so too, whatever the transport checked. */
	read_state(&r, path);
	err.msg[0] = '\0';
	assert_int_equal(dev->ops->restore(dev, &r, SNAP_SLOT, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "had 4 ports, this one 3"));
	virtio_device_destroy(dev);

	/* The device section alone: the ports' own state is missing. */
	struct snapshot_writer w = { 0 };
	const struct snapshot_section *sec = snapshot_find(&r, SNAP_VIRTIO_DEVICE, SNAP_SLOT);
	assert_non_null(sec);
	assert_non_null(snapshot_find(&r, SNAP_VIRTIO_PRIVATE, SNAP_SLOT));
	assert_int_equal(snapshot_put(&w, sec->tag, sec->index, sec->data, sec->len), 0);
	snapshot_reader_free(&r);
	write_state(&w, path);
	err.msg[0] = '\0';
	assert_int_equal(restore_ports(f, 4, path, &dev, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "virtio-console"));
	assert_non_null(strstr(err.msg, "missing"));
	virtio_device_destroy(dev);
	fx_free(f);
	unlink(path);
}

/* A failed test leaves its state file behind: gone with the group. */
static int remove_state_file(void **state)
{
	char path[128];

	(void)state;
	snap_path(path, sizeof(path));
	unlink(path);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_space_has_the_port_count),
		cmocka_unit_test(new_rejects_bad_port_sets),
		cmocka_unit_test(device_ready_adds_ports_as_buffers_allow),
		cmocka_unit_test(port_ready_gets_name_then_open),
		cmocka_unit_test(guest_open_is_reported_once_per_change),
		cmocka_unit_test(guest_writes_reach_the_back_end),
		cmocka_unit_test(send_waits_for_the_guest_to_open),
		cmocka_unit_test(host_close_tells_the_guest),
		cmocka_unit_test(host_close_before_port_ready),
		cmocka_unit_test(data_before_a_later_message_whatever_the_kicks),
		cmocka_unit_test(data_before_the_guest_closes),
		cmocka_unit_test(send_from_guest_open_keeps_the_control_head),
		cmocka_unit_test(callbacks_during_a_data_chain_keep_its_head),
		cmocka_unit_test(short_control_message_is_returned_unread),
		cmocka_unit_test(unknown_port_ids_are_ignored),
		cmocka_unit_test(device_ready_flood_needs_reset),
		cmocka_unit_test(descriptor_outside_memory_needs_reset),
		cmocka_unit_test(restored_ports_carry_on),
		cmocka_unit_test(ports_restore_refuses_misfits),
	};
	return cmocka_run_group_tests(tests, NULL, remove_state_file);
}
