#!/usr/bin/env bash
# Smoke test for scripts/kvm-sandbox: boots the TCG outer guest, checks that
# /dev/kvm exists inside it, that the command's output comes back and that
# its exit status (7) is passed through.
# Needs root (it may apt-get install qemu etc.) and Debian's archive the first
# time; later runs use the cache (<repo>/.cache/kvm-sandbox).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sandbox=$here/../../scripts/kvm-sandbox

out=$("$sandbox" -- sh -c 'test -c /dev/kvm && echo sandbox-ok; exit 7')
status=$?

if [ "$status" -ne 7 ]; then
  echo "kvm_sandbox_smoke: FAIL: expected exit status 7, got $status" >&2
  printf 'output was:\n%s\n' "$out" >&2
  exit 1
fi
if ! grep -qx 'sandbox-ok' <<<"$out"; then
  echo "kvm_sandbox_smoke: FAIL: output lacks 'sandbox-ok' (no /dev/kvm in the guest?)" >&2
  printf 'output was:\n%s\n' "$out" >&2
  exit 1
fi
echo "kvm_sandbox_smoke: PASS (sandbox-ok, status 7)"
