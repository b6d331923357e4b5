// SPDX-License-Identifier: GPL-2.0-only
#include "arch/x86/rtc.h"

#include <string.h>

enum {
	RTC_SECONDS = 0x00, RTC_MINUTES = 0x02, RTC_HOURS = 0x04, RTC_WEEKDAY = 0x06,
	RTC_DAY = 0x07, RTC_MONTH = 0x08, RTC_YEAR = 0x09,
	RTC_REG_A = 0x0a, RTC_REG_B = 0x0b, RTC_REG_C = 0x0c, RTC_REG_D = 0x0d,
	RTC_CENTURY = 0x32,
};

void rtc_init(struct cmos_rtc *rtc)
{
	memset(rtc, 0, sizeof(*rtc));
	pthread_mutex_init(&rtc->lock, NULL);
	rtc->now = time;
}

void rtc_destroy(struct cmos_rtc *rtc)
{
	pthread_mutex_destroy(&rtc->lock);
}

static uint8_t bcd(int v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

uint8_t rtc_register_value(const struct cmos_rtc *rtc, uint8_t reg, time_t t)
{
	struct tm tm;
	gmtime_r(&t, &tm);

	switch (reg) {
	case RTC_SECONDS: return bcd(tm.tm_sec);
	case RTC_MINUTES: return bcd(tm.tm_min);
	case RTC_HOURS: return bcd(tm.tm_hour);
	case RTC_WEEKDAY: return bcd(tm.tm_wday + 1);
	case RTC_DAY: return bcd(tm.tm_mday);
	case RTC_MONTH: return bcd(tm.tm_mon + 1);
	case RTC_YEAR: return bcd(tm.tm_year % 100);
	case RTC_CENTURY: return bcd((tm.tm_year + 1900) / 100);
	case RTC_REG_A: return 0x26; /* 32.768 kHz base, 1024 Hz, update never in progress */
	case RTC_REG_B: return 0x02; /* 24-hour, BCD, no interrupts */
	case RTC_REG_C: return 0x00;
	case RTC_REG_D: return 0x80; /* battery good */
	default: return rtc->ram[reg & 0x7f];
	}
}

void rtc_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct cmos_rtc *rtc = opaque;

	if (len != 1)
		return;
	pthread_mutex_lock(&rtc->lock);
	if (offset == 0 && is_write) {
		rtc->index = data[0] & 0x7f; /* bit 7 is the NMI mask */
	} else if (offset == 1 && is_write) {
		if (rtc->index > RTC_REG_D && rtc->index != RTC_CENTURY)
			rtc->ram[rtc->index] = data[0];
	} else if (offset == 1) {
		data[0] = rtc_register_value(rtc, rtc->index, rtc->now(NULL));
	} else {
		data[0] = rtc->index;
	}
	pthread_mutex_unlock(&rtc->lock);
}
