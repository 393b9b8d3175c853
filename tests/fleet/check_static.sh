#!/usr/bin/env bash
# tests/fleet/check_static.sh WHAT BUILD_DIR — the fleet/ files checked by
# their own tools, no server started:
#   rules      promtool check rules + promtool test rules (the unit tests in
#              tests/fleet/vdropmon-rules.test.yml)
#   names      every PromQL expression of the dashboard and the rule file
#              names only metrics vdropmond exports (the renderer's list)
#   alertmanager  amtool check-config fleet/alertmanager.yml
#   dashboard  the Grafana dashboard's provisioning-readiness (with its
#              provider file), structure, variables, and every query
#              parsed by promtool (tests/fleet/check_dashboard.py, which
#              first proves on broken copies that it catches each fault)
set -euo pipefail
what=$1 build=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
case $what in
rules)
	promtool check rules "$root/fleet/vdropmon-rules.yml"
	promtool test rules "$root/tests/fleet/vdropmon-rules.test.yml"
	;;
names)
	names=$(mktemp)
	trap 'rm -f "$names"' EXIT
	"$build/tests/fleet/vdm-metrics-sample" --names >"$names"
	python3 "$root/tests/fleet/check_promql_names.py" --self-test --names "$names" \
		"$root/fleet/grafana/vdropmon-dashboard.json" "$root/fleet/vdropmon-rules.yml"
	;;
alertmanager)
	amtool check-config "$root/fleet/alertmanager.yml"
	;;
dashboard)
	python3 "$root/tests/fleet/check_dashboard.py" --self-test \
		--provider "$root/fleet/grafana/dashboards.yml" "$root/fleet/grafana/vdropmon-dashboard.json"
	;;
*)
	echo "unknown check $what" >&2
	exit 2
	;;
esac
