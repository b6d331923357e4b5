# ember — single-binary microVM runner.  See README.md for the two commands
# that matter: `make run` (set up and boot) and `make test` (everything).

ARCH      ?= x86
CC        ?= gcc
BUILD     := build
VERSION   := $(shell cat VERSION 2>/dev/null || echo 0.1.0)

CFLAGS    ?= -O2 -g
CFLAGS    += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I. -Iarch/$(ARCH)/include -ffunction-sections -fdata-sections \
             -DEMBER_VERSION='"$(VERSION)"' -MMD -MP
# No .eh_frame for our own code: ember never unwinds (no C++, no pthread_cancel/exit),
# and debuggers read .debug_frame from build/ember.debug.  16 KiB off the binary.
CFLAGS    += -fno-asynchronous-unwind-tables -fno-unwind-tables
# libnl's headers live under their own directory (virtio/net_tap.c: taps, addresses, bridges).
CFLAGS    += -I/usr/include/libnl3
# Static link: libnl-route-3 needs libnl-3, so it comes first.
LDLIBS    := -llz4 -lseccomp -lcap-ng -lnl-route-3 -lnl-3 -lpthread

# Every .c below these folders is part of the VMM; main.c only parses flags.
# arch/$(ARCH)/include is on the include path: arch/arch.h takes its "arch_types.h" from there
# (a directory of its own, so that no arch header shadows a system one such as <cpuid.h>).
LIB_SRCS  := $(sort $(wildcard vm/*.c cpu/*.c virtio/*.c boot/*.c arch/$(ARCH)/*.c arch/$(ARCH)/*/*.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB       := $(BUILD)/libember.a

.PHONY: all deps guest run check test unit layers guests integration bench clean asan
all: ember

# The shipped binary is stripped (size is a feature); debug with build/ember.debug.
ember: $(BUILD)/ember.debug
	strip -o $@ $<

$(BUILD)/ember.debug: $(BUILD)/main.o $(LIB)
	$(CC) -static $(LDFLAGS) -Wl,--gc-sections -o $@ $^ $(LDLIBS)

$(LIB): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# Installs build and test dependencies with apt-get (only what is missing).
deps:
	@scripts/install-deps.sh

# ---- unit tests: tests/unit/test_*.c, cmocka, no KVM needed -------------
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)

$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) -lcmocka $(LDLIBS)

# The guest init's relay is not part of the VMM: its test links rootfs/init_relay.c too
# (pipes stand in for the ports).  An explicit rule, so the pattern above is not used.
$(BUILD)/tests/unit/test_init_relay: tests/unit/test_init_relay.c rootfs/init_relay.c rootfs/init_relay.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< rootfs/init_relay.c $(LIB) -lcmocka $(LDLIBS)

unit: $(UNIT_BINS)
	@scripts/run-unit-tests.sh $(UNIT_BINS)

# The layering rules of DESIGN.md: includes go down, no directory circle,
# device unit tests link without the orchestrator (reads the unit binaries).
layers: $(UNIT_BINS)
	@scripts/check-layers.sh $(BUILD)/tests/unit

# ---- tiny freestanding guests and the guest kernel/initramfs -------------
include tests/guests/guests.mk
include rootfs/rootfs.mk
include tests/bench/bench.mk
include tests/fuzz/fuzz.mk

# Fast loop for development: unit tests (C, and the bench's statistics), the
# layering rules, and tiny guests under real KVM.
check: ember unit layers bench-selftest guests-test

# The whole suite (README's test command; .ci/run calls exactly this).
test: deps
	$(MAKE) check
	$(MAKE) fuzz-smoke
	$(MAKE) integration

integration: ember guest
	@tests/integration/run.sh

run: deps
	$(MAKE) ember guest
	./ember run -- uname -a

bench: ember guest $(GUEST_BINS) $(BENCH_BINS)
	@scripts/bench.sh

clean:
	rm -rf $(BUILD) ember

-include $(LIB_OBJS:.o=.d) $(BUILD)/main.d
