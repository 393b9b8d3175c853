# test_lib.sh — sourced (bash) by the test wrappers that need root or a
# network namespace topology: tests/kernel/test_qdisc.sh,
# tests/e2e/netns_run.sh, tests/leadtime/smoke.sh.
#
# Before sourcing, set:
#   VDM_TEST_NAME   the test's name in messages (kernel-qdisc, e2e-http-flv, ...)
#   VDM_UNTESTED    what a skip leaves untested (default "The real-kernel path")
#
# Skip policy as in tests/kernel/kernel_test_util.h: exit 77 with a loud
# message when this machine cannot run the test, exit 1 instead if
# VDROPMON_REQUIRE_BPF=1.

# vdm_skip_or_fail REASON...
vdm_skip_or_fail() {
	if [[ "${VDROPMON_REQUIRE_BPF:-}" == 1 ]]; then
		echo "*** $VDM_TEST_NAME: FAIL: $* (VDROPMON_REQUIRE_BPF=1: not allowed to skip)" >&2
		exit 1
	fi
	cat >&2 <<-MSG

	****************************************************************
	*** $VDM_TEST_NAME: SKIPPED: $*
	*** ${VDM_UNTESTED:-The real-kernel path} was NOT tested. Set VDROPMON_REQUIRE_BPF=1
	*** to turn this skip into a failure.
	****************************************************************

	MSG
	exit 77
}

# vdm_require_root_and TOOL... — root, and these commands on the PATH.
vdm_require_root_and() {
	local tool
	[[ $EUID -eq 0 ]] || vdm_skip_or_fail "needs root (network namespaces, eBPF)"
	for tool in "$@"; do
		command -v "$tool" >/dev/null || vdm_skip_or_fail "$tool not found"
	done
}

# Our own processes only: the namespaces are this run's.
vdm_netns_stop_leftovers() {
	local role pids
	for role in snd rcv; do
		pids=$(ip netns pids "$VDM_NETNS_PREFIX-$role" 2>/dev/null) || continue
		[[ -n $pids ]] || continue
		# shellcheck disable=SC2086  # one pid per word
		kill -TERM $pids 2>/dev/null
		sleep 0.5
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null
	done
	return 0
}

vdm_netns_cleanup() {
	vdm_netns_stop_leftovers
	bash "$VDM_NETNS_SH" down "$VDM_NETNS_PREFIX"
}

# vdm_netns_up PREFIX NETNS_SH — a fresh tests/kernel/netns.sh topology
# (snd 10.200.1.1 -> rtr with a tbf bottleneck -> rcv 10.200.2.2), always
# taken down again on every way out (success, failure, signal, timeout),
# after stopping whatever this run started in it. VDM_TBF_RATE and friends
# pass through to netns.sh. IPv6 is off in all three namespaces: tbf's
# dropped counter is the reference, only the test's stream may reach it,
# and IPv6 would add neighbour discovery, MLD and router solicitations.
vdm_netns_up() {
	local role
	VDM_NETNS_PREFIX=$1
	VDM_NETNS_SH=$2
	trap vdm_netns_cleanup EXIT
	# Signals must go through exit so that the EXIT trap runs.
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP
	bash "$VDM_NETNS_SH" up "$VDM_NETNS_PREFIX" ||
		vdm_skip_or_fail "cannot create the test network namespaces"
	for role in snd rtr rcv; do
		ip netns exec "$VDM_NETNS_PREFIX-$role" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 || exit 1
	done
}

# vdm_netns_run_test TEST_BIN — runs it in PREFIX-rcv, telling it the
# topology (VDM_NETNS_PREFIX, VDM_NETNS_SH); its status is returned.
vdm_netns_run_test() {
	ip netns exec "$VDM_NETNS_PREFIX-rcv" env VDM_NETNS_PREFIX="$VDM_NETNS_PREFIX" \
		VDM_NETNS_SH="$VDM_NETNS_SH" "$1"
}
