#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Checks the house rules of ../shared/DESIGN.md that the compiler cannot:
#   1. includes go down the layers only:
#        machine  vm/* (all but the orchestrator): memory, bus, loop, config, machine...
#        boot     boot/*
#        arch     arch/*          (arch/arch.h and the arch's own files)
#        cpu      cpu/*           } side by side: neither includes the other
#        virtio   virtio/*        }
#        orchestrator  vm/vm.[ch], vm/session.[ch] (the command channel's host
#                      end: devices, signals and stdio of one run) and vm/warm.[ch]
#                      (the warm-start cache: what a guest's shape depends on)
#        main     main.c
#      a file may include its own layer and the layers below it, nothing else;
#   2. no two top-level directories include each other in a circle (vm/'s
#      orchestrator counts as its own node: it is the top, vm/'s other files
#      the bottom, which is what DESIGN.md's map says);
#   3. arch-neutral code has no #ifdef on the architecture;
#   4. the device-level unit tests link without the orchestrator, vCPU
#      threads, the emulator, the ACPI builder or the sandbox.
# One line per check, then "N passed, M failed"; exit 1 on any failure.
#
#   scripts/check-layers.sh [UNIT_TEST_BUILD_DIR]
set -u
cd "$(dirname "$0")/.." || exit 2
UNIT_DIR=${1:-build/tests/unit}

passed=0 failed=0
ok()     { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1: $2"; failed=$((failed + 1)); }

# layer FILE: the layer name of a source path.
layer() {
	case $1 in
	vm/vm.c | vm/vm.h | vm/session.c | vm/session.h | vm/warm.c | vm/warm.h) echo orchestrator ;;
	vm/*) echo machine ;;
	boot/*) echo boot ;;
	arch/*) echo arch ;;
	cpu/*) echo cpu ;;
	virtio/*) echo virtio ;;
	main.c) echo main ;;
	*) echo other ;;
	esac
}

rank() {
	case $1 in
	machine) echo 0 ;; boot) echo 1 ;; arch) echo 2 ;; cpu | virtio) echo 3 ;;
	orchestrator) echo 4 ;; main) echo 5 ;; *) echo 9 ;;
	esac
}

# Resolves an include as the compiler does with -I. -Iarch/$ARCH/include: "arch_types.h" is the arch's.
resolve() {
	local inc=$1 from=$2
	if [ -f "$inc" ]; then echo "$inc"
	elif [ -f "$(dirname "$from")/$inc" ]; then echo "$(dirname "$from")/$inc"
	else
		local a
		for a in arch/*/include/; do
			[ -f "$a$inc" ] && { echo "$a$inc"; return; }
		done
		echo "$inc"
	fi
}

mapfile -t sources < <(find vm cpu virtio boot arch -name '*.[ch]' | sort; echo main.c)

# ---- 1. includes go down ----------------------------------------------------------
bad=""
edges=""
for f in "${sources[@]}"; do
	lf=$(layer "$f")
	while IFS= read -r inc; do
		t=$(resolve "$inc" "$f")
		lt=$(layer "$t")
		[ "$lt" = other ] && continue
		edges+="$f $t"$'\n'
		if [ "$lf" = "$lt" ]; then continue; fi
		if [ "$(rank "$lt")" -ge "$(rank "$lf")" ]; then
			bad+="$f ($lf) includes $t ($lt); "
		fi
	done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
done
if [ -z "$bad" ]; then ok "includes only go down the layers"; else not_ok "includes only go down the layers" "$bad"; fi

# No file below the orchestrator names it.
users=$(grep -l '#include "vm/vm.h"' "${sources[@]}" | grep -v -x -e vm/vm.c -e main.c | tr '\n' ' ')
if [ -z "$users" ]; then ok "only main.c includes vm/vm.h"; else not_ok "only main.c includes vm/vm.h" "$users"; fi

# ---- 2. no circle between top-level directories ------------------------------------------
node() { case $1 in vm/vm.c | vm/vm.h | vm/session.c | vm/session.h | vm/warm.c | vm/warm.h) echo vm-orchestrator ;; main.c) echo main ;; *) echo "${1%%/*}" ;; esac; }
dir_edges=$(while read -r a b; do
	[ -n "$a" ] || continue
	na=$(node "$a"); nb=$(node "$b")
	[ "$na" != "$nb" ] && echo "$na $nb"
done <<<"$edges" | sort -u)
cycle=$(echo "$dir_edges" | tsort 2>&1 >/dev/null | grep -i -e loop -e cycle || true)
if [ -z "$cycle" ]; then
	ok "no circle between top-level directories ($(echo "$dir_edges" | tr '\n' ',' | sed 's/,$//; s/,/, /g'))"
else
	not_ok "no circle between top-level directories" "$(echo "$dir_edges" | tr '\n' ';') $cycle"
fi

# ---- 3. no arch #ifdef outside arch/ ------------------------------------------------------
neutral=()
for f in "${sources[@]}"; do [[ $f == arch/* ]] || neutral+=("$f"); done
hits=$(grep -n -E '^#\s*(if|ifdef|ifndef|elif).*(__x86_64__|__aarch64__|__i386__|__arm__)' \
	"${neutral[@]}" || true)
if [ -z "$hits" ]; then ok "no architecture #if outside arch/"; else not_ok "no architecture #if outside arch/" "$hits"; fi
if grep -q '#error' arch/arch.h; then not_ok "arch/arch.h has no #error" "found one"; else ok "arch/arch.h has no #error"; fi

# ---- 4. what the device-level unit tests link ---------------------------------------------
forbidden='vm_run|vm_create|vcpu_create|vcpu_handle_exit|emu_step|acpi_build|sandbox_apply|sandbox_drop_capabilities|arch_vm_init'
for t in test_virtq test_virtio_mmio test_worker test_blk test_9p test_ports test_net; do
	bin=$UNIT_DIR/$t
	if [ ! -x "$bin" ]; then
		not_ok "$t links only the device layers" "$bin not built (make unit)"
		continue
	fi
	linked=$(nm "$bin" | awk '$2 == "T" { print $3 }' | grep -x -E "$forbidden" | tr '\n' ' ')
	text=$(size "$bin" | awk 'NR == 2 { print $1 }')
	if [ -z "$linked" ]; then
		ok "$t links only the device layers ($text bytes of text)"
	else
		not_ok "$t links only the device layers" "it links $linked"
	fi
done

echo "layers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
