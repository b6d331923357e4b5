# Guest kernel and initramfs (included by the top-level Makefile, which
# defines BUILD and CC).  The guest init is a static program for the guest,
# not part of the VMM: it gets its own compiler and flags.
#
#   make guest   $(BUILD)/guest/bzImage           (rootfs/build-kernel.sh: cached
#                                                  outside the repo, ~10 min when cold)
#                $(BUILD)/guest/initramfs.cpio (init + busybox-static)

ROOTFS_DIR    := rootfs
ROOTFS_OUT    := $(BUILD)/guest
ROOTFS_KERNEL := $(ROOTFS_OUT)/bzImage
ROOTFS_INITRD := $(ROOTFS_OUT)/initramfs.cpio
ROOTFS_INIT   := $(ROOTFS_OUT)/init

# musl makes the static init ~50 KB instead of glibc's ~700 KB, and every
# byte of the initramfs is unpacked by slow guest ring-0 code.  Plain gcc
# (glibc) works too when musl-tools is not installed.
ifeq ($(origin ROOTFS_INIT_CC),undefined)
ROOTFS_INIT_CC := $(if $(shell command -v musl-gcc 2>/dev/null),musl-gcc,$(CC))
endif
ROOTFS_INIT_CFLAGS := -static -Os -s -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I.
# The channel's wire format is ember's own file, compiled into both sides.
ROOTFS_INIT_SRCS   := $(ROOTFS_DIR)/init.c $(ROOTFS_DIR)/init_net.c $(ROOTFS_DIR)/init_relay.c vm/channel_proto.c
ROOTFS_INIT_DEPS   := $(ROOTFS_INIT_SRCS) $(ROOTFS_DIR)/init_relay.h $(ROOTFS_DIR)/init_net.h vm/channel_proto.h arch/x86/guest_abi.h

.PHONY: guest guest-kernel guest-initramfs rootfs-force
guest: $(ROOTFS_KERNEL) $(ROOTFS_INITRD)
guest-kernel: $(ROOTFS_KERNEL)
guest-initramfs: $(ROOTFS_INITRD)

# Always asks the script: it is the cache check (milliseconds when warm).
# The copy in $(BUILD) is a hard link to the cached file when possible and
# is only replaced when it differs, so its mtime stays put on cache hits.
$(ROOTFS_KERNEL): rootfs-force
	@mkdir -p $(dir $@)
	@k=$$($(ROOTFS_DIR)/build-kernel.sh) || exit 1; \
	 k=$$(printf '%s\n' "$$k" | tail -n 1); \
	 if ! [ "$$k" -ef $@ ] && ! cmp -s "$$k" $@; then \
	   ln -f "$$k" $@ 2>/dev/null || cp -f "$$k" $@; \
	   echo "guest kernel: $@ <- $$k"; \
	 fi

$(ROOTFS_INIT): $(ROOTFS_INIT_DEPS)
	@mkdir -p $(dir $@)
	$(ROOTFS_INIT_CC) $(ROOTFS_INIT_CFLAGS) -o $@ $(ROOTFS_INIT_SRCS)

$(ROOTFS_INITRD): $(ROOTFS_INIT) $(ROOTFS_DIR)/build-initramfs.sh $(wildcard /bin/busybox)
	$(ROOTFS_DIR)/build-initramfs.sh $(ROOTFS_INIT) $@
