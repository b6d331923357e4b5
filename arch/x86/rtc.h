/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * CMOS real-time clock (MC146818) at ports 0x70/0x71, read-only clock:
 * the guest reads the host's UTC time in BCD.  Without it Linux starts in
 * 1970 and some guests spin waiting on a missing update-in-progress bit.
 */
#ifndef EMBER_ARCH_X86_RTC_H
#define EMBER_ARCH_X86_RTC_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define CMOS_PORT 0x70

struct cmos_rtc {
	pthread_mutex_t lock;
	uint8_t index;
	uint8_t ram[128];   /* non-clock bytes the guest may store */
	time_t (*now)(time_t *); /* replaceable for tests */
};

void rtc_init(struct cmos_rtc *rtc);
void rtc_destroy(struct cmos_rtc *rtc);
void rtc_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);
/* The value of CMOS register `reg` at time `t` (pure; unit tested). */
uint8_t rtc_register_value(const struct cmos_rtc *rtc, uint8_t reg, time_t t);

#endif
