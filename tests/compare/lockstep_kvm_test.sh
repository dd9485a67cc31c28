#!/usr/bin/env bash
# `tandem lockstep --accel kvm,interp` inside the nested KVM sandbox
# (scripts/kvm-sandbox, one boot for every run): the NASM guests must agree
# to the end, and a fault planted in the interpreter (CLD setting DF) must be
# found at the CLD with only RFLAGS marked, differing in DF.
# Usage: lockstep_kvm_test.sh TANDEM GUEST_DIR GUEST...
set -u
tandem=$1 dir=$2
shift 2
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
roms=()
for g in "$@"; do roms+=("$dir/$g.rom"); done

"$here/../../scripts/kvm-sandbox" --timeout 1500 --file "$tandem" --file "$here/lockstep_kvm_session.sh" \
  $(printf -- '--file %s ' "${roms[@]}") -- sh "$here/lockstep_kvm_session.sh" "$tandem" interp:cld-df "${roms[@]}" \
  >"$tmp/out" 2>"$tmp/err"
status=$?
[ $status = 0 ] || { fail "kvm-sandbox exit status $status: $(tail -20 "$tmp/err")"; exit 1; }
# Split the transcript at the "== NAME STATUS" lines: NAME.txt, NAME.status.
python3 - "$tmp/out" "$tmp" <<'PY'
import re, sys
text, d = open(sys.argv[1]).read(), sys.argv[2]
parts = re.split(r"^== (\S+) (\d+)\n", text, flags=re.M)
for i in range(1, len(parts) - 1, 3):
    open(f"{d}/{parts[i]}.txt", "w").write(parts[i - 1])
    open(f"{d}/{parts[i]}.status", "w").write(parts[i + 1])
PY
for g in "$@"; do
  st=$(cat "$tmp/$g.status" 2>/dev/null || echo none)
  if [ "$st" = 0 ]; then
    echo "lockstep kvm,interp $g: $(grep -m1 'agree over' "$tmp/$g.txt")"
  else
    fail "$g: exit status $st, expected 0"; cat "$tmp/$g.txt" >&2
  fi
done
st=$(cat "$tmp/planted.status" 2>/dev/null || echo none)
[ "$st" = 1 ] || fail "planted interp:cld-df: exit status $st, expected 1"
check_divergence "$tmp/planted.txt" cld rflags 400 || { fail "planted interp:cld-df report"; cat "$tmp/planted.txt" >&2; }
exit $failed
