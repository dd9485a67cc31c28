#!/usr/bin/env bash
# Runs COMMAND (which writes its console to FILE) until a line of FILE
# contains TEXT, then ends it, and prints the seconds from its start to that
# moment ("-" when TEXT never came within SECONDS or COMMAND exited first).
# For guests that never stop on their own, e.g. firmware with nothing to
# boot. Needs bash (EPOCHREALTIME), grep and a sleep taking fractions.
# Usage: run-until-line.sh TEXT SECONDS FILE COMMAND [ARGS...]
set -u
if [ $# -lt 4 ]; then
  echo "usage: $0 TEXT SECONDS FILE COMMAND [ARGS...]" >&2
  exit 2
fi
text=$1 limit=$2 file=$3
shift 3
rm -f "$file"
now_us() { local t=$EPOCHREALTIME; echo $((10#${t%.*} * 1000000 + 10#${t#*.})); }
t0=$(now_us)
deadline=$((t0 + limit * 1000000))
"$@" &
pid=$!
result=-
while :; do
  if [ -f "$file" ] && grep -qF -- "$text" "$file"; then
    us=$(($(now_us) - t0))
    result=$(printf '%d.%03d' $((us / 1000000)) $((us % 1000000 / 1000)))
    break
  fi
  kill -0 "$pid" 2>/dev/null || break
  [ "$(now_us)" -lt "$deadline" ] || break
  sleep 0.01
done
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
echo "$result"
[ "$result" != - ]
