// Flag effects from Zydis's tables (flag_effects.h).
#include "accel/interp/flag_effects.h"

namespace tandem::accel::interp {

FlagEffects DecodeFlagEffects(ZydisMachineMode mode, const uint8_t* bytes, size_t length) {
  const ZydisStackWidth width = mode == ZYDIS_MACHINE_MODE_LONG_64 ? ZYDIS_STACK_WIDTH_64
                                : (mode == ZYDIS_MACHINE_MODE_LEGACY_32 || mode == ZYDIS_MACHINE_MODE_LONG_COMPAT_32)
                                    ? ZYDIS_STACK_WIDTH_32
                                    : ZYDIS_STACK_WIDTH_16;
  ZydisDecoder decoder;
  ZydisDecodedInstruction insn;
  if (!length || !ZYAN_SUCCESS(ZydisDecoderInit(&decoder, mode, width)) ||
      !ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&decoder, nullptr, bytes, length, &insn)) || !insn.cpu_flags) {
    return {};
  }
  FlagEffects effects;
  effects.undefined = insn.cpu_flags->undefined;
  effects.defined = (insn.cpu_flags->modified | insn.cpu_flags->set_0 | insn.cpu_flags->set_1) & ~effects.undefined;
  return effects;
}

}  // namespace tandem::accel::interp
