#!/bin/bash
# netns_run.sh NAME NETNS_SH TEST_BIN — runs an e2e test binary inside the
# receiving namespace of a fresh netns.sh topology (snd 10.200.1.1 → rtr
# with a tbf bottleneck → rcv 10.200.2.2), and always takes it down again,
# on every way out (success, failure, signal, timeout). The test starts its
# server in PREFIX-snd itself; whatever still runs in the namespaces at the
# end was started by this run and is stopped before they are removed.
#
# The bottleneck starts wide open (VDM_TBF_RATE, default 100mbit here) so a
# stream can start cleanly; the test narrows it when it wants drops.
#
# Skip policy as in tests/kernel/kernel_test_util.h: exit 77 with a loud
# message when this machine cannot run the test, exit 1 instead if
# VDROPMON_REQUIRE_BPF=1.
set -uo pipefail

name=$1
netns_sh=$2
test_bin=$3
prefix="vdme$$"

skip_or_fail() {
	if [[ "${VDROPMON_REQUIRE_BPF:-}" == 1 ]]; then
		echo "*** $name: FAIL: $* (VDROPMON_REQUIRE_BPF=1: not allowed to skip)" >&2
		exit 1
	fi
	cat >&2 <<-MSG

	****************************************************************
	*** $name: SKIPPED: $*
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

# Our own processes only: the namespaces are this run's.
stop_leftovers() {
	local role pids
	for role in snd rcv; do
		pids=$(ip netns pids "$prefix-$role" 2>/dev/null) || continue
		[[ -n $pids ]] || continue
		# shellcheck disable=SC2086  # one pid per word
		kill -TERM $pids 2>/dev/null
		sleep 0.5
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null
	done
	return 0
}

cleanup() {
	stop_leftovers
	bash "$netns_sh" down "$prefix"
}
trap cleanup EXIT
# Signals must go through exit so that the EXIT trap runs.
trap 'exit 130' INT
trap 'exit 143' TERM HUP

VDM_TBF_RATE=${VDM_TBF_RATE:-100mbit} bash "$netns_sh" up "$prefix" ||
	skip_or_fail "cannot create the test network namespaces"

# tbf's dropped counter is the reference: only the test's stream may reach
# it. IPv6 would add neighbour discovery, MLD and router solicitations.
for role in snd rtr rcv; do
	ip netns exec "$prefix-$role" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1 || exit 1
done

ip netns exec "$prefix-rcv" env VDM_NETNS_PREFIX="$prefix" VDM_NETNS_SH="$netns_sh" "$test_bin"
