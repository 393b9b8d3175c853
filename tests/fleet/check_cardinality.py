#!/usr/bin/env python3
"""The cardinality docs/fleet.md states, checked against the registry:
series and scrape size at 1,200 synthetic streams, typical and worst case
(vdm-metrics-sample --bench). A new per-stream series changes these
numbers: update docs/fleet.md ("Cardinality and scrape cost") with them.

Usage: check_cardinality.py BUILD_DIR
"""
import subprocess
import sys

# docs/fleet.md: series at 1,200 streams, and a bound on the text size.
EXPECTED = {"typical": (13221, 1_800_000), "worst": (28821, 4_300_000)}
RENDER_MS_LIMIT = 1000  # generous: a shared 2-core machine; the docs give the median


def bench(build, worst):
    args = [f"{build}/tests/fleet/vdm-metrics-sample", "--streams", "1200", "--bench", "5"]
    out = subprocess.run(args + (["--worst"] if worst else []), capture_output=True, text=True,
                         check=True).stdout
    return dict(line.split(" ", 1) for line in out.strip().splitlines())


def main():
    ok = True
    for case, (series, max_bytes) in EXPECTED.items():
        got = bench(sys.argv[1], case == "worst")
        print(f"{case}: {got}")
        if int(got["series"]) != series:
            print(f"FAIL {case}: {got['series']} series at 1,200 streams, docs/fleet.md says {series}")
            ok = False
        if int(got["bytes"]) > max_bytes:
            print(f"FAIL {case}: scrape {got['bytes']} bytes, more than {max_bytes}")
            ok = False
        if float(got["render_ms_p50"]) > RENDER_MS_LIMIT:
            print(f"FAIL {case}: render {got['render_ms_p50']} ms")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
