#!/bin/bash
# netns_run.sh NAME NETNS_SH TEST_BIN — runs an e2e test binary inside the
# receiving namespace of a fresh netns.sh topology (snd 10.200.1.1 → rtr
# with a tbf bottleneck → rcv 10.200.2.2), and always takes it down again
# (tests/common/test_lib.sh). The test starts its server in PREFIX-snd
# itself; whatever still runs in the namespaces at the end was started by
# this run and is stopped before they are removed.
#
# The bottleneck starts wide open (VDM_TBF_RATE, default 100mbit here) so a
# stream can start cleanly; the test narrows it when it wants drops.
set -uo pipefail

VDM_TEST_NAME=$1
netns_sh=$2
test_bin=$3
# shellcheck source=../common/test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../common/test_lib.sh"

vdm_require_root_and ip tc
VDM_TBF_RATE=${VDM_TBF_RATE:-100mbit} vdm_netns_up "vdme$$" "$netns_sh"
vdm_netns_run_test "$test_bin"
