# shellcheck shell=bash
# test-server.sh — sourced by rtsp.sh and http-flv.sh (after common.sh):
# starts one of the project's test servers (tests/servers/) and waits for it
# to listen, stops it and the receiver on exit.
# Not meant to be run.

# vdm_wait_ready FILE PID SECONDS: prints the URL of the first
# "READY <url>" line the server (PID) wrote to FILE. Fails when the server
# exits first, or after SECONDS.
vdm_wait_ready() {
	local file=$1 pid=$2 seconds=$3 tries line
	for ((tries = seconds * 10; tries > 0; tries--)); do
		if line=$(grep -m1 '^READY ' "$file" 2>/dev/null); then
			echo "${line#READY }"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# vdm_start_test_server NAME LABEL PATTERN BITRATE SECONDS: starts
# $VDM_BUILD_DIR/tests/servers/NAME on loopback (free port) for SECONDS,
# sets `url` to where it listens, and makes sure the server, the receiver
# (set `receiver` to its pid) and the scratch directory go away on exit.
vdm_start_test_server() {
	local name=$1 label=$2 pattern=$3 bitrate=$4 seconds=$5
	local server_bin=$VDM_BUILD_DIR/tests/servers/$name
	[[ -x $server_bin ]] || vdm_die "no $server_bin: build first (ninja -C $VDM_BUILD_DIR)"
	server="" receiver="" workdir=""
	trap vdm_test_server_cleanup EXIT
	trap 'exit 130' INT TERM
	workdir=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
	"$server_bin" --address "$VDM_LOOPBACK" --port 0 --pattern "$pattern" \
		--bitrate "$bitrate" --duration-s "$seconds" >"$workdir/server.out" &
	server=$!
	url=$(vdm_wait_ready "$workdir/server.out" "$server" 10) || vdm_die "the $label server did not start"
}

# shellcheck disable=SC2317  # called by the EXIT trap
vdm_test_server_cleanup() {
	vdm_stop_jobs ${receiver:+"$receiver"} ${server:+"$server"}
	[[ -z $workdir ]] || rm -rf "$workdir"
}

# vdm_wait_receiver: waits for the receiver started with timeout(1) and
# exits with its status; 124 (stopped by the timeout, which is how these
# scripts are meant to end) counts as success.
vdm_wait_receiver() {
	local rc=0
	wait "$receiver" || rc=$?
	receiver=
	((rc == 124)) && rc=0
	exit "$rc"
}
