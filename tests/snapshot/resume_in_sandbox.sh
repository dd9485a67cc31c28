#!/usr/bin/env bash
# resume_test.sh for the KVM engine, inside scripts/kvm-sandbox (nested KVM
# under QEMU): a snapshot taken under KVM resumes on the JIT and one taken on
# the JIT resumes under KVM, each matching an uninterrupted KVM run.
# Usage: resume_in_sandbox.sh TANDEM ROM
set -u
tandem=${1:?usage: resume_in_sandbox.sh TANDEM ROM}
rom=${2:?usage: resume_in_sandbox.sh TANDEM ROM}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
"$top/scripts/kvm-sandbox" --timeout 800 --file "$tandem" --file "$rom" --file "$here/resume_test.sh" -- \
  sh "$here/resume_test.sh" "$tandem" "$rom" kvm:jit jit:kvm kvm:kvm
status=$?
if [ $status = 125 ]; then
  echo "resume_in_sandbox: FAIL: the KVM sandbox could not run (see above); KVM snapshots are untested" >&2
  exit 1
fi
exit $status
