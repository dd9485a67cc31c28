#!/usr/bin/env bash
# Boots every test guest with `tandem bench` (each engine available here and
# QEMU's TCG when installed, RUNS runs each) and prints one row per guest:
# median seconds per column, the interpreter's instruction count and MIPS,
# and which columns' serial transcripts differ from the first's. Each run is
# cut off after 30 s.
# Usage: bench/guest_table.sh [BUILD_DIR] [RUNS]
set -u
build=${1:-build}
runs=${2:-3}
row=$(cat <<'PY'
import json, sys
name, header = sys.argv[1], sys.argv[2] == "1"
d = json.load(sys.stdin)
cols = d["engines"]
interp = next((e for e in cols if e["engine"] == "interp"), cols[0])
if header:
    print("%-16s" % "guest" + "".join("%12s" % (e["engine"] + "_s") for e in cols) +
          "%14s%8s  %s" % ("instructions", "MIPS", "transcripts"))
print("%-16s" % name + "".join("%12.3f" % e["median_s"] for e in cols) +
      "%14s%8s  %s" % (interp["instructions"] or "-", interp["mips"] or "-",
                       "agree" if d["transcripts_agree"] else
                       "differ: " + ",".join(e["engine"] for e in cols if not e["transcript_agrees"])))
PY
)
header=1
for rom in "$build"/tests/guests/*.rom; do
  name=$(basename "$rom" .rom)
  reboot=(--no-reboot)
  case $name in i8042_reset | double_fault) reboot=() ;; esac
  "$build/tandem" bench --runs "$runs" --vs-qemu --json -- --bios "$rom" --timeout 30 "${reboot[@]}" 2>/dev/null |
    python3 -c "$row" "$name" "$header"
  header=0
done
