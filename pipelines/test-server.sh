# shellcheck shell=bash
# test-server.sh — sourced by rtsp.sh and http-flv.sh (after common.sh):
# waits for one of the project's test servers (tests/servers/) to listen.
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
