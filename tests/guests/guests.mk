# Tiny freestanding x86-64 test guests (included by the top-level Makefile,
# which defines BUILD and CC).  Guests get their own flags: nothing of the
# VMM's CFLAGS/LDLIBS may leak into a program that runs as a bare kernel.
#
#   make guests        build $(GUEST_BINS)
#   make guests-test   run each under ./ember (tests/guests/run.sh)

GUEST_DIR     := tests/guests
GUEST_NAMES   := hello exit_status triple_fault unknown_port uart_probe boot_timer cpus spin \
                 virtio_hostile count
GUEST_BINS    := $(GUEST_NAMES:%=$(BUILD)/guests/%.elf)
GUEST_RT_OBJS := $(BUILD)/guests/start.o $(BUILD)/guests/lib.o

# -mgeneral-regs-only: nobody enabled SSE state for us; -fno-tree-loop-
# distribute-patterns: keep gcc from turning lib.c's memset into a call to
# itself.  -fcf-protection=none: no endbr64 and no .note.gnu.property.
GUEST_CFLAGS  := -std=c11 -m64 -Os -Wall -Wextra -Werror -I. -I$(GUEST_DIR) \
                 -ffreestanding -fno-pic -fno-pie -mno-red-zone -mgeneral-regs-only \
                 -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables \
                 -fcf-protection=none -fno-tree-loop-distribute-patterns -MMD -MP
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,$(GUEST_DIR)/guest.ld \
                 -Wl,--build-id=none -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack

# Host programs that drive the orchestrator's steps directly (linked with
# the VMM library, built with the VMM's flags).
GUEST_HOST_BINS := $(BUILD)/guests/lifecycle $(BUILD)/guests/restore

.PHONY: guests guests-test
guests: $(GUEST_BINS) $(GUEST_HOST_BINS)
.PRECIOUS: $(BUILD)/guests/%.o

guests-test: ember $(GUEST_BINS) $(GUEST_HOST_BINS)
	@$(GUEST_DIR)/run.sh

$(BUILD)/guests/lifecycle $(BUILD)/guests/restore: $(BUILD)/guests/%: $(GUEST_DIR)/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/guests/%.o: $(GUEST_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(BUILD)/guests/%.o: $(GUEST_DIR)/%.S
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c -o $@ $<

# start.o first on the command line; guest.ld puts _start at 1 MiB anyway.
$(BUILD)/guests/%.elf: $(BUILD)/guests/%.o $(GUEST_RT_OBJS) $(GUEST_DIR)/guest.ld
	$(CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ $(GUEST_RT_OBJS) $<

-include $(GUEST_NAMES:%=$(BUILD)/guests/%.d) $(GUEST_RT_OBJS:.o=.d)
