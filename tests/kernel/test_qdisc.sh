#!/bin/bash
# test_qdisc.sh NETNS_SH TEST_BIN — runs TEST_BIN (test_qdisc.c) inside the
# receiving namespace of a fresh netns.sh topology, and always removes the
# topology again, on every way out (success, failure, signal, timeout).
#
# Skip policy as in kernel_test_util.h: exit 77 with a loud message when
# this machine cannot run the test, exit 1 instead if VDROPMON_REQUIRE_BPF=1.
set -uo pipefail

netns_sh=$1
test_bin=$2
prefix="vdmt$$"

skip_or_fail() {
	if [[ "${VDROPMON_REQUIRE_BPF:-}" == 1 ]]; then
		echo "*** kernel-qdisc: FAIL: $* (VDROPMON_REQUIRE_BPF=1: not allowed to skip)" >&2
		exit 1
	fi
	cat >&2 <<-MSG

	****************************************************************
	*** kernel-qdisc: SKIPPED: $*
	*** The real-kernel path was NOT tested. Set VDROPMON_REQUIRE_BPF=1
	*** to turn this skip into a failure.
	****************************************************************

	MSG
	exit 77
}

[[ $EUID -eq 0 ]] || skip_or_fail "needs root (network namespaces, eBPF)"
for tool in ip tc; do
	command -v "$tool" >/dev/null || skip_or_fail "$tool not found"
done

cleanup() {
	bash "$netns_sh" down "$prefix"
}
trap cleanup EXIT
# Signals must go through exit so that the EXIT trap runs.
trap 'exit 130' INT
trap 'exit 143' TERM HUP

bash "$netns_sh" up "$prefix" || skip_or_fail "cannot create the test network namespaces"

# tbf's dropped counter is the reference: only our stream may reach it.
# IPv6 would add neighbour discovery, MLD and router solicitations.
for role in snd rtr rcv; do
	ip netns exec "$prefix-$role" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 || exit 1
done
# Resolve ARP on both hops before the measurement, with a few packets to the
# discard port (nobody listens: rcv answers port-unreachable, not via tbf).
ip netns exec "$prefix-snd" "$VDM_RTP_SENDER" --allow-netns --dest 10.200.2.2:9 \
	--count 3 --rate 100 --duration-ms 2000 2>/dev/null || exit 1

ip netns exec "$prefix-rcv" env VDM_NETNS_PREFIX="$prefix" VDM_NETNS_SH="$netns_sh" "$test_bin"
