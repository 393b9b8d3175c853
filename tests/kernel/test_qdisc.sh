#!/bin/bash
# test_qdisc.sh NETNS_SH TEST_BIN — runs TEST_BIN (test_qdisc.c) inside the
# receiving namespace of a fresh netns.sh topology, and always removes the
# topology again (tests/common/test_lib.sh).
set -uo pipefail

netns_sh=$1
test_bin=$2
VDM_TEST_NAME=kernel-qdisc
# shellcheck source=../common/test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common/test_lib.sh"

vdm_require_root_and ip tc
vdm_netns_up "vdmt$$" "$netns_sh"
# Resolve ARP on both hops before the measurement, with a few packets to the
# discard port (nobody listens: rcv answers port-unreachable, not via tbf).
ip netns exec "$VDM_NETNS_PREFIX-snd" "$VDM_RTP_SENDER" --allow-netns --dest 10.200.2.2:9 \
	--count 3 --rate 100 --duration-ms 2000 2>/dev/null || exit 1

vdm_netns_run_test "$test_bin"
