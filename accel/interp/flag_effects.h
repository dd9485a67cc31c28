// Which RFLAGS bits an instruction defines and which it leaves undefined
// (SDM vol. 2, per instruction, as Zydis tabulates them): engines may differ
// in the undefined ones, so the tools that compare engines (tandem lockstep,
// the interp-vs-JIT fuzzer) mask them.
#pragma once

#include <Zydis/Zydis.h>

#include <cstddef>
#include <cstdint>

namespace tandem::accel::interp {

struct FlagEffects {
  uint64_t defined = 0;    // written with a result (or set to 0 or 1)
  uint64_t undefined = 0;  // left undefined
};

// The effects of the instruction `bytes` starts with, decoded in `mode`;
// none for bytes that do not decode.
FlagEffects DecodeFlagEffects(ZydisMachineMode mode, const uint8_t* bytes, size_t length);

}  // namespace tandem::accel::interp
