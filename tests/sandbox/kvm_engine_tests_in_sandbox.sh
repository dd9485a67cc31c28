#!/usr/bin/env bash
# Runs the KVM engine's unit tests inside the nested KVM sandbox, on Debian's
# stock kvm-amd module, whatever the host offers. A skipped KVM test here
# means the sandbox has no usable /dev/kvm, so it fails instead of skipping.
# Usage: kvm_engine_tests_in_sandbox.sh ACCEL_TESTS_BINARY
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
binary=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
# Not the INT3 breakpoints: QEMU's TCG, the sandbox's outer machine, takes a
# nested guest's INT3 as a software interrupt without KVM's #BP intercept.
out=$("$here/../../scripts/kvm-sandbox" --file "$binary" -- "$binary" --gtest_filter='Kvm*:-*/Int3' 2>&1)
status=$?
printf '%s\n' "$out"
if [ $status -ne 0 ]; then
  echo "kvm_engine_tests_in_sandbox: FAIL: exit status $status" >&2
  exit 1
fi
if grep -q '\[  SKIPPED \]' <<<"$out"; then
  echo "kvm_engine_tests_in_sandbox: FAIL: KVM tests skipped inside the sandbox" >&2
  exit 1
fi
if ! grep -q '\[  PASSED  \] [1-9]' <<<"$out"; then
  echo "kvm_engine_tests_in_sandbox: FAIL: no test passed" >&2
  exit 1
fi
echo "kvm_engine_tests_in_sandbox: PASS"
