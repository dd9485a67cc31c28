// `--drive` in QEMU's -drive spelling, for virtio-blk disks:
// file=PATH[,format=raw][,if=virtio][,readonly=on|off][,snapshot=on|off]
// [,cache=writeback|none]; ",," in a value is a literal comma.
#pragma once

#include <string>
#include <vector>

#include "hw/block/raw_image.h"
#include "hw/status.h"

namespace tandem::cli {

// KEY=VALUE parts of a QEMU option string: split at single commas, ",,"
// kept as one comma (QemuOpts' escape).
std::vector<std::string> SplitQemuOptions(const std::string& spec);

// The drive the option describes; the error says which part is wrong.
Result<hw::DriveConfig> ParseDriveOption(const std::string& spec);

}  // namespace tandem::cli
