#!/bin/bash
# netns.sh — a throw-away 3-namespace topology where the kernel really drops
# packets in a qdisc, so integration tests can check that vdropmon sees
# QDISC drops (not only socket-buffer ones).
#
#   PREFIX-snd  to-rtr 10.200.1.1/24
#                  |
#   PREFIX-rtr  to-snd 10.200.1.2/24   (ip_forward=1)
#               to-rcv 10.200.2.1/24   root qdisc: tbf (the bottleneck)
#                  |
#   PREFIX-rcv  to-rtr 10.200.2.2/24
#
# Usage:
#   netns.sh up PREFIX           create the namespaces, links, routes, tbf
#   netns.sh down PREFIX         remove them (idempotent)
#   netns.sh qdisc-drops PREFIX  print the tbf "dropped" counter
#
# PREFIX must be unique per test run (e.g. "vdmk$$"); the caller owns it
# and must call "down" when done, also on failure.
#
# The tbf queue holds about rate*latency + burst bytes.  With the defaults
# (2mbit, 8kb, 20ms) that is ~13 kB, i.e. ~10 packets of 1240 bytes on the
# wire.  Measured on 6.18 with 1000 packets of vdm-rtp-sender --size 1200:
#   --rate 200 (~2 Mbit/s): 0 drops     --rate 500:  ~586 drops
#   --rate 1000 (~10 Mbit/s): 785 drops --rate 2000: ~884 drops
# Each is one kfree_skb with reason QDISC_DROP in __dev_queue_xmit, in the
# rtr namespace, skb->sk NULL (forwarded), running in the *sender's*
# softirq context.  Override with VDM_TBF_RATE, VDM_TBF_BURST,
# VDM_TBF_LATENCY.
#
# Interface names are fixed because each link is created directly inside
# its namespaces: nothing touches the initial namespace, so concurrent
# runs with different prefixes cannot collide.
#
# Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN for mounting the netns).
# Exit status: 0 ok, 1 failure, 2 bad usage.

set -Eeuo pipefail   # -E: the ERR trap of cmd_up must fire inside functions

readonly SND_ADDR=10.200.1.1
readonly RTR_SND_ADDR=10.200.1.2
readonly RTR_RCV_ADDR=10.200.2.1
readonly RCV_ADDR=10.200.2.2
readonly BOTTLENECK_DEV=to-rcv

die() {
	echo "netns.sh: $*" >&2
	exit 1
}

usage() {
	echo "Usage: netns.sh up|down|qdisc-drops PREFIX" >&2
	exit 2
}

# Namespace names end up in /run/netns and in error messages: keep them
# boring so no quoting surprise can reach ip(8) or the filesystem.
check_prefix() {
	[[ "$1" =~ ^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$ ]] ||
		{ echo "netns.sh: bad PREFIX '$1' (letters, digits, _ and -, max 40)" >&2; exit 2; }
}

ns_exists() {
	[[ -e "/run/netns/$1" ]]
}

# Refuse to adopt namespaces we did not create: "down" would delete them.
check_absent() {
	local p=$1 role
	for role in snd rtr rcv; do
		if ns_exists "$p-$role"; then
			die "namespace $p-$role already exists (stale run? try: netns.sh down $p)"
		fi
	done
}

create_namespaces() {
	local p=$1 role
	for role in snd rtr rcv; do
		ip netns add "$p-$role"
		ip -n "$p-$role" link set lo up
	done
}

# Creates a veth pair with one end in each namespace and addresses both.
link_namespaces() {
	local ns_a=$1 dev_a=$2 addr_a=$3 ns_b=$4 dev_b=$5 addr_b=$6
	ip -n "$ns_a" link add "$dev_a" type veth peer name "$dev_b" netns "$ns_b"
	ip -n "$ns_a" addr add "$addr_a/24" dev "$dev_a"
	ip -n "$ns_b" addr add "$addr_b/24" dev "$dev_b"
	ip -n "$ns_a" link set "$dev_a" up
	ip -n "$ns_b" link set "$dev_b" up
}

# Only the test range is routed: no default route, so nothing sent from
# the end namespaces can leave the topology.
add_routes() {
	local p=$1
	ip -n "$p-snd" route add 10.200.2.0/24 via "$RTR_SND_ADDR"
	ip -n "$p-rcv" route add 10.200.1.0/24 via "$RTR_RCV_ADDR"
	ip netns exec "$p-rtr" sysctl -qw net.ipv4.ip_forward=1
}

add_bottleneck() {
	local p=$1
	tc -n "$p-rtr" qdisc add dev "$BOTTLENECK_DEV" root tbf \
		rate "${VDM_TBF_RATE:-2mbit}" \
		burst "${VDM_TBF_BURST:-8kb}" \
		latency "${VDM_TBF_LATENCY:-20ms}"
}

check_path() {
	local p=$1
	# return, not die: a failing call must reach cmd_up's ERR trap.
	if ! ip -n "$p-snd" route get "$RCV_ADDR" >/dev/null; then
		echo "netns.sh: no route from $p-snd to $RCV_ADDR" >&2
		return 1
	fi
}

cmd_up() {
	local p=$1
	[[ $EUID -eq 0 ]] || die "needs root (creates network namespaces)"
	check_absent "$p"
	# From here on a failure must not leave half a topology behind.
	# Expanded now on purpose: $p is local and already validated.
	# shellcheck disable=SC2064
	trap "echo 'netns.sh: setup of $p failed, tearing down' >&2; cmd_down '$p'" ERR
	create_namespaces "$p"
	link_namespaces "$p-snd" to-rtr "$SND_ADDR" "$p-rtr" to-snd "$RTR_SND_ADDR"
	link_namespaces "$p-rtr" "$BOTTLENECK_DEV" "$RTR_RCV_ADDR" "$p-rcv" to-rtr "$RCV_ADDR"
	add_routes "$p"
	add_bottleneck "$p"
	check_path "$p"
	trap - ERR
}

# Deleting a namespace destroys its veth ends and thereby their peers.
cmd_down() {
	local p=$1 role
	for role in snd rtr rcv; do
		if ns_exists "$p-$role"; then
			ip netns del "$p-$role" || echo "netns.sh: could not delete $p-$role" >&2
		fi
	done
}

# tc -s prints, under "qdisc tbf ...", a line like
#   Sent 123 bytes 4 pkt (dropped 5, overlimits 6 requeues 0)
cmd_qdisc_drops() {
	local p=$1 out
	ns_exists "$p-rtr" || die "namespace $p-rtr does not exist"
	out=$(tc -n "$p-rtr" -s qdisc show dev "$BOTTLENECK_DEV") ||
		die "tc failed on $p-rtr/$BOTTLENECK_DEV"
	awk '
		/^qdisc / { in_tbf = ($2 == "tbf") }
		in_tbf && /\(dropped [0-9]+,/ {
			sub(/.*\(dropped /, ""); sub(/,.*/, ""); print; found = 1; exit
		}
		END { exit !found }' <<<"$out" ||
		die "no tbf drop counter on $p-rtr/$BOTTLENECK_DEV"
}

main() {
	[[ $# -eq 2 ]] || usage
	check_prefix "$2"
	case "$1" in
	up) cmd_up "$2" ;;
	down) cmd_down "$2" ;;
	qdisc-drops) cmd_qdisc_drops "$2" ;;
	*) usage ;;
	esac
}

main "$@"
