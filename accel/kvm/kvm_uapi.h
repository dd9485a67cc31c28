// <linux/kvm.h> made safe for C++. Debian 12's UAPI headers declare the
// flexible arrays of kvm_msrs, kvm_msr_list, kvm_cpuid2, kvm_signal_mask and
// kvm_xsave through __DECLARE_FLEX_ARRAY, whose empty struct is one byte in
// C++: the structs grow, so the ioctl numbers (which encode their size) and
// the entries' offsets are wrong and the kernel answers EINVAL. Later kernels
// fix the macro for C++ ("uapi: stddef.h: Fix __DECLARE_FLEX_ARRAY for C++");
// until then, every file in accel/kvm includes this header, not <linux/kvm.h>.
#pragma once

#include <linux/stddef.h>
#undef __DECLARE_FLEX_ARRAY
#define __DECLARE_FLEX_ARRAY(TYPE, NAME) TYPE NAME[0]
#include <linux/kvm.h>

#include <cstddef>

static_assert(sizeof(kvm_msr_list) == 4, "<linux/kvm.h> was included before accel/kvm/kvm_uapi.h");
static_assert(sizeof(kvm_msrs) == 8 && offsetof(kvm_msrs, entries) == 8);
static_assert(sizeof(kvm_cpuid2) == 8 && offsetof(kvm_cpuid2, entries) == 8);
static_assert(sizeof(kvm_signal_mask) == 4);
static_assert(sizeof(kvm_xsave) == 4096);
