# Shared by the monitor tests (qmp_test.sh, gdbstub_test.sh): sourced after
# `name` and `tandem` are set. Makes $work (removed on exit, killing $pid if
# set), fail(), $rom (a 64 KiB ROM whose reset vector holds `inc eax; jmp`
# back, counting for ever) and $engines (the software engines available).
work=$(mktemp -d "${TMPDIR:-/tmp}/$name.XXXXXX")
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "$name: FAIL: $*" >&2; exit 1; }
command -v python3 >/dev/null || { echo "$name: SKIP: python3 not installed"; exit 77; }

rom=$work/rom.bin
head -c $((0x10000 - 16)) /dev/zero | tr '\0' '\364' >"$rom"
printf '\x66\x40\xeb\xfc\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4\xf4' >>"$rom"

engines=interp
"$tandem" accels | grep -q '^jit  *available' && engines="$engines jit"
