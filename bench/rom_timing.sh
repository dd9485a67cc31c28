# Sourced by the ROM-guest benchmark scripts (loop_table.sh, smp_scaling.sh).
now() { date +%s.%N; }
# best_of command...: the best wall time of $runs runs of a ROM guest, or
# "exit N" unless it passed (debug-exit 0, tandem/QEMU exit status 1).
best_of() {
  local best="" t0 t1 t rc
  for _ in $(seq "$runs"); do
    t0=$(now)
    "$@" >/dev/null 2>&1
    rc=$?
    t1=$(now)
    [ "$rc" = 1 ] || { echo "exit $rc"; return; }
    t=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
  done
  printf '%.3f' "$best"
}
