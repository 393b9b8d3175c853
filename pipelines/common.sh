# shellcheck shell=bash
# common.sh — sourced by the pipeline scripts: where the repository and the
# build are, argument checks, and the plugin path. Not meant to be run.

VDM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VDM_BUILD_DIR=${VDM_BUILD_DIR:-$VDM_ROOT/build}
# The pipeline scripts only ever talk to this address.
# shellcheck disable=SC2034
readonly VDM_LOOPBACK=127.0.0.1

vdm_die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}

# vdm_uint NAME VALUE MIN MAX: VALUE must be a decimal integer in [MIN, MAX];
# bad arguments exit 2 like a usage error.
vdm_uint() {
	local name=$1 value=$2 min=$3 max=$4
	if ! [[ $value =~ ^[0-9]{1,10}$ ]] || ((10#$value < min || 10#$value > max)); then
		echo "$(basename "$0"): $name must be an integer in $min..$max (got '$value')" >&2
		exit 2
	fi
}

# Makes gst-launch-1.0 find the freshly built element.
vdm_use_plugin() {
	local plugin_dir=$VDM_BUILD_DIR/plugin
	[[ -f $plugin_dir/libgstvdropmon.so ]] ||
		vdm_die "no $plugin_dir/libgstvdropmon.so: build first (meson setup build && ninja -C build)"
	export GST_PLUGIN_PATH=$plugin_dir${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}
}

# Stops the background jobs whose pids are listed, politely first: gst-launch
# turns SIGINT into EOS, timeout(1) forwards TERM to its child.
vdm_stop_jobs() {
	local pid
	for pid in "$@"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "$@"; do
		wait "$pid" 2>/dev/null || true
	done
}
