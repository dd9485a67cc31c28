#!/usr/bin/env bash
# Runs linux_resume.sh (the Linux guest saved mid-computation and resumed)
# with the kernel and initramfs of scripts/linux-guest.
#
# Usage: linux_resume_test.sh TANDEM STEP...      on this host (interp, jit)
#        linux_resume_test.sh TANDEM --sandbox    KVM in scripts/kvm-sandbox:
#          a snapshot taken here on the JIT resumes under KVM, and one taken
#          under KVM resumes on the JIT (both inside the sandbox)
# Exit 0 pass, 1 fail, 77 skip (an engine is unavailable).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tandem=$(realpath "${1:?usage: linux_resume_test.sh TANDEM STEP...|--sandbox}")
shift
name=linux_resume_test
paths=$("$here/../../scripts/linux-guest" --print) || { echo "$name: FAIL: scripts/linux-guest failed" >&2; exit 1; }
kernel=$(sed -n 's/^kernel=//p' <<<"$paths")
initrd=$(sed -n 's/^initrd=//p' <<<"$paths")

need() {
  if ! "$tandem" accels | grep -Eq "^$1 +available"; then
    echo "$name: SKIP: $("$tandem" accels | grep -E "^$1 ")"
    exit 77
  fi
}

if [ "${1:-}" != --sandbox ]; then
  for step in "$@"; do
    need "${step%%:*}"
    need "${step##*:}"
  done
  exec sh "$here/linux_resume.sh" "$tandem" "$kernel" "$initrd" "$@"
fi

need jit
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sh "$here/linux_resume.sh" "$tandem" "$kernel" "$initrd" "jit:save:$work/jit.snap" || exit 1
"$here/../../scripts/kvm-sandbox" --timeout 1500 --file "$tandem" --file "$kernel" --file "$initrd" \
  --file "$here/linux_resume.sh" --file "$work/jit.snap" --file "$work/jit.snap.uptime" -- \
  sh "$here/linux_resume.sh" "$tandem" "$kernel" "$initrd" "load:$work/jit.snap:kvm" kvm:jit
status=$?
if [ $status = 125 ]; then
  echo "$name: FAIL: the KVM sandbox could not run (see above); KVM snapshots of Linux are untested" >&2
  exit 1
fi
exit $status
