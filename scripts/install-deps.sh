#!/bin/bash
# Installs ember's build and test dependencies (Debian 12 packages) with
# apt-get: only the ones that are missing, so a second run costs one
# dpkg-query call and no network.
set -euo pipefail

PACKAGES=(
    build-essential libcmocka-dev liblz4-dev libseccomp-dev libcap-ng-dev
    busybox-static linux-source-6.1 bc bison flex libelf-dev libssl-dev cpio
    xz-utils e2fsprogs qemu-system-x86 acpica-tools file debootstrap kmod shellcheck
    musl-tools  # rootfs/rootfs.mk: a 50 KB static guest init instead of 700 KB
    clang libclang-rt-14-dev  # tests/fuzz: libFuzzer with ASan and UBSan
    python3     # tests/bench/stats.py: the figures and tables of `make bench`
    libnl-3-dev libnl-route-3-dev  # virtio/net_tap.c: --net auto/bridge= set taps up over rtnetlink
    passt       # virtio/net_passt.c: --net user, the guest's network without privileges
    iperf3      # network throughput of a guest, host to guest and back
    iproute2    # tests: ip(8) builds bridges, veths and routes inside test namespaces
)

# One dpkg-query for all packages: prints "name<TAB>status" for each known one;
# unknown packages are missing from the output (and complain on stderr).
declare -A status=()
while IFS=$'\t' read -r name st; do
    status[$name]=$st
done < <(dpkg-query -W -f='${Package}\t${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)

missing=()
for p in "${PACKAGES[@]}"; do
    [ "${status[$p]:-}" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "install-deps: installing: ${missing[*]}" >&2
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: not root and no sudo" >&2; exit 1; }
    SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
