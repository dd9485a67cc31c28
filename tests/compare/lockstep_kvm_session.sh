#!/bin/sh
# Runs inside scripts/kvm-sandbox (busybox sh) for lockstep_kvm_test.sh:
# `tandem lockstep --accel kvm,interp` over each ROM given, then over the
# first with a fault planted in the interpreter. Each run's output is
# followed by a line "== NAME STATUS".
# Usage: lockstep_kvm_session.sh TANDEM PLANT ROM...
tandem=$1 plant=$2
shift 2
for rom in "$@"; do
  "$tandem" lockstep --accel kvm,interp -- --bios "$rom" --no-reboot 2>&1
  echo "== $(basename "$rom" .rom) $?"
done
TANDEM_PLANT_FAULT=$plant "$tandem" lockstep --accel kvm,interp -- --bios "$1" --no-reboot 2>&1
echo "== planted $?"
