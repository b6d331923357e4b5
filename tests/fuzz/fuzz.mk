# libFuzzer harnesses (included by the top-level Makefile).  Built with
# clang, ASan and UBSan from the sources they exercise (not libember.a,
# which gcc builds without sanitizers).  One per name in FUZZ_HARNESSES:
#   emulate    tests/fuzz/fuzz_emulate.c    the x86 emulator (arch/x86/emulate/)
#   snapshot   tests/fuzz/fuzz_snapshot.c   a snapshot's state file (vm/snapshot_file.c)
#   memory_lz4 tests/fuzz/fuzz_memory_lz4.c a compressed memory image (vm/memory_lz4.c)
#   net        tests/fuzz/fuzz_net.c        what a guest driver puts on virtio-net's queues
#                                           (virtio/net.c, virtio/queue.c)
#   vsock      tests/fuzz/fuzz_vsock.c      guest vsock packets and rx buffers (virtio/vsock.c)
# each with its own corpus, tests/fuzz/corpus/<name>.
#
#   make fuzz          a long run: FUZZ_SECONDS (default 600) of each harness in turn
#                      (make fuzz FUZZ_HARNESSES=snapshot: that one only)
#   make fuzz-smoke    200 000 executions of each from its kept corpus (part of make test)
#
# New inputs go to a scratch directory; tests/fuzz/corpus/ holds the seeds
# and whatever a long run found worth keeping (copy them in by hand).

FUZZ_CC        ?= clang
FUZZ_SECONDS   ?= 600
FUZZ_HARNESSES ?= emulate snapshot memory_lz4 net vsock
FUZZ_FLAGS     := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                  -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I. -Iarch/$(ARCH)/include
FUZZ_EMU       := $(BUILD)/fuzz/fuzz_emulate
FUZZ_SNAP      := $(BUILD)/fuzz/fuzz_snapshot
FUZZ_MEMLZ4    := $(BUILD)/fuzz/fuzz_memory_lz4
FUZZ_NET       := $(BUILD)/fuzz/fuzz_net
FUZZ_VSOCK     := $(BUILD)/fuzz/fuzz_vsock
# What a virtio device links with besides its own file: the ring, the core
# (which attaches to a machine: vm/machine.c, and with it the bus and the loop)
# and the worker; guest memory.
FUZZ_VIRTIO    := virtio/queue.c virtio/core.c virtio/worker.c vm/memory.c vm/machine.c vm/bus.c \
                  vm/loop.c vm/error.c
# Longest input per harness (-max_len).
FUZZ_LEN_emulate  := 512
FUZZ_LEN_snapshot := 4096
FUZZ_LEN_memory_lz4 := 16384
FUZZ_LEN_net   := 4096
FUZZ_LEN_vsock := 4096

.PHONY: fuzz fuzz-smoke
$(FUZZ_EMU): tests/fuzz/fuzz_emulate.c $(wildcard arch/$(ARCH)/emulate/*.c arch/$(ARCH)/emulate/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_emulate.c $(wildcard arch/$(ARCH)/emulate/*.c)

$(FUZZ_SNAP): tests/fuzz/fuzz_snapshot.c vm/snapshot_file.c vm/snapshot_file.h vm/atomic_file.c vm/error.c vm/error.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_snapshot.c vm/snapshot_file.c vm/atomic_file.c vm/error.c -llz4

$(FUZZ_MEMLZ4): tests/fuzz/fuzz_memory_lz4.c vm/memory_lz4.c vm/memory_lz4.h vm/memory.c vm/memory.h vm/memory_file.c vm/atomic_file.c vm/error.c vm/error.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_memory_lz4.c vm/memory_lz4.c vm/memory.c vm/memory_file.c vm/atomic_file.c vm/error.c -llz4 -lpthread

# net.c saves its state in snapshots: vm/snapshot_file.c (and what it needs) comes too.
$(FUZZ_NET): tests/fuzz/fuzz_net.c virtio/net.c $(FUZZ_VIRTIO) vm/snapshot_file.c vm/atomic_file.c \
		$(wildcard virtio/*.h vm/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_net.c virtio/net.c $(FUZZ_VIRTIO) \
		vm/snapshot_file.c vm/atomic_file.c -llz4 -lpthread

# The connector (vsock_connect.c) confines itself with libseccomp and libcap-ng; clang
# (not gcc) takes libseccomp's SCMP_A0() macros for structs missing a field.
$(FUZZ_VSOCK): tests/fuzz/fuzz_vsock.c virtio/vsock.c virtio/vsock_connect.c $(FUZZ_VIRTIO) \
		$(wildcard virtio/*.h vm/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -Wno-missing-field-initializers -o $@ tests/fuzz/fuzz_vsock.c virtio/vsock.c virtio/vsock_connect.c \
		$(FUZZ_VIRTIO) -lseccomp -lcap-ng -lpthread

fuzz: $(FUZZ_HARNESSES:%=$(BUILD)/fuzz/fuzz_%)
	@rc=0; for spec in $(foreach h,$(FUZZ_HARNESSES),$h:$(FUZZ_LEN_$h)); do \
		h=$${spec%%:*}; scratch=$$(mktemp -d); \
		$(BUILD)/fuzz/fuzz_$$h -max_len=$${spec#*:} -max_total_time=$(FUZZ_SECONDS) \
			-print_final_stats=1 $$scratch tests/fuzz/corpus/$$h || rc=1; \
		echo "fuzz: $$h: new inputs kept in $$scratch"; \
	done; exit $$rc

fuzz-smoke: $(FUZZ_HARNESSES:%=$(BUILD)/fuzz/fuzz_%)
	@passed=0; failed=0; for spec in $(foreach h,$(FUZZ_HARNESSES),$h:$(FUZZ_LEN_$h)); do \
		h=$${spec%%:*}; scratch=$$(mktemp -d); \
		if $(BUILD)/fuzz/fuzz_$$h -max_len=$${spec#*:} -runs=200000 $$scratch tests/fuzz/corpus/$$h \
			>$$scratch.log 2>&1; then passed=$$((passed + 1)); \
		else tail -40 $$scratch.log; echo "not ok - fuzz-smoke: $$h"; failed=$$((failed + 1)); fi; \
		rm -rf $$scratch $$scratch.log; \
	done; \
	echo "fuzz-smoke: $$passed passed, $$failed failed (200000 executions each: $(FUZZ_HARNESSES); ASan+UBSan)"; \
	[ $$failed -eq 0 ]
