// The interpreter accelerator: executes guest code by decoding each
// instruction once with Zydis and running the cached decoded form.
#pragma once

#include <memory>

#include "accel/accelerator.h"

namespace tandem::accel::interp {

Result<std::unique_ptr<Engine>> CreateEngine(hw::Board& board);

}  // namespace tandem::accel::interp
