# Benchmark helpers (included by the top-level Makefile, which defines
# BUILD and CC; `make bench` builds them and runs scripts/bench.sh, whose
# sections are scripts/bench/*.sh and whose figures and tables come from
# tests/bench/stats.py).
#
#   $(BUILD)/bench/pvh_guest.elf  a tiny guest both ember and QEMU microvm
#                                 boot directly: ELF64 with 32-bit code and
#                                 a Xen PVH entry note
#   $(BUILD)/bench/firstbyte      host helper: exec -> first stdout byte ->
#                                 exit times, peak RSS, guest RAM resident
#   bench-selftest                stats.py's unit tests (test_stats.py: made-up
#                                 samples, no VMM; part of `make check`)
#
# The guest gets its own flags: nothing of the VMM's CFLAGS may leak into a
# program that runs as a bare kernel.  The helper is a static host program
# (small, so the forked child it execs from adds little to ru_maxrss).

BENCH_DIR   := tests/bench
BENCH_GUEST := $(BUILD)/bench/pvh_guest.elf
BENCH_FB    := $(BUILD)/bench/firstbyte
BENCH_BINS  := $(BENCH_GUEST) $(BENCH_FB)

BENCH_GUEST_ASFLAGS := -m64 -I. -MMD -MP
BENCH_GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,$(BENCH_DIR)/pvh_guest.ld \
                       -Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack
BENCH_FB_CFLAGS     := -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -static -MMD -MP

.PHONY: bench-bins bench-selftest
bench-bins: $(BENCH_BINS)

# -B: no __pycache__ in the source tree.
bench-selftest:
	@python3 -B -m unittest discover -q -s $(BENCH_DIR) -p 'test_*.py'

$(BUILD)/bench/pvh_guest.o: $(BENCH_DIR)/pvh_guest.S
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_GUEST_ASFLAGS) -c -o $@ $<

$(BENCH_GUEST): $(BUILD)/bench/pvh_guest.o $(BENCH_DIR)/pvh_guest.ld
	$(CC) $(BENCH_GUEST_LDFLAGS) -o $@ $<

$(BENCH_FB): $(BENCH_DIR)/firstbyte.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_FB_CFLAGS) -o $@ $<

-include $(BUILD)/bench/pvh_guest.d $(BUILD)/bench/firstbyte.d
