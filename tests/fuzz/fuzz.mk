# libFuzzer harnesses (included by the top-level Makefile).  Built with
# clang, ASan and UBSan from the sources they exercise (not libember.a,
# which gcc builds without sanitizers).
#
#   make fuzz          a long run: FUZZ_SECONDS (default 600) of the emulator harness
#   make fuzz-smoke    200 000 executions from the kept corpus (part of make test)
#
# New inputs go to a scratch directory; tests/fuzz/corpus/ holds the seeds
# and whatever a long run found worth keeping (copy them in by hand).

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 600
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I. -Iarch/$(ARCH)/include
FUZZ_EMU     := $(BUILD)/fuzz/fuzz_emulate
FUZZ_CORPUS  := tests/fuzz/corpus/emulate

.PHONY: fuzz fuzz-smoke
$(FUZZ_EMU): tests/fuzz/fuzz_emulate.c $(wildcard arch/$(ARCH)/emulate/*.c arch/$(ARCH)/emulate/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_emulate.c $(wildcard arch/$(ARCH)/emulate/*.c)

fuzz: $(FUZZ_EMU)
	@scratch=$$(mktemp -d) && $(FUZZ_EMU) -max_len=512 -max_total_time=$(FUZZ_SECONDS) \
		-print_final_stats=1 $$scratch $(FUZZ_CORPUS); rc=$$?; \
		echo "fuzz: new inputs kept in $$scratch"; exit $$rc

fuzz-smoke: $(FUZZ_EMU)
	@scratch=$$(mktemp -d) && $(FUZZ_EMU) -max_len=512 -runs=200000 $$scratch $(FUZZ_CORPUS) \
		>$$scratch.log 2>&1; rc=$$?; \
		if [ $$rc -eq 0 ]; then echo "fuzz-smoke: 1 passed, 0 failed (200000 emulator executions, ASan+UBSan)"; \
		else tail -40 $$scratch.log; echo "fuzz-smoke: 0 passed, 1 failed"; fi; \
		rm -rf $$scratch $$scratch.log; exit $$rc
