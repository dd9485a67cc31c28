// QEMU's firmware linker/loader script (hw/acpi/bios-linker-loader.c, the
// "etc/table-loader" fw_cfg file): 128-byte little-endian commands telling
// firmware to allocate blobs, patch pointers between them and fix checksums,
// so that tables built without knowing their final addresses can be placed
// anywhere. SeaBIOS (src/fw/romfile_loader.c) and OVMF execute it; tandem's
// direct boots run the same script with RunTableLoader().
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "hw/guest_memory.h"
#include "hw/status.h"

namespace tandem::hw {

class TableLoader {
 public:
  static constexpr size_t kCommandSize = 128;
  static constexpr size_t kFileNameSize = 56;
  enum Command : uint32_t { kAllocate = 1, kAddPointer = 2, kAddChecksum = 3 };
  // Where ALLOCATE puts a blob: anywhere in RAM ("high"), or in the BIOS's
  // F segment (0xF0000-0xFFFFF), where an OS scans for the RSDP.
  enum class Zone : uint8_t { kHigh = 1, kFSeg = 2 };

  // Copy `file` into memory aligned to `align` (a power of two) in `zone`.
  void Allocate(const std::string& file, uint32_t align, Zone zone);
  // Add the address of `src_file` to the `size`-byte little-endian value at
  // `offset` in `dest_file` (which holds an offset into src_file).
  void AddPointer(const std::string& dest_file, uint32_t offset, uint8_t size, const std::string& src_file);
  // Make the bytes [start, start + length) of `file` sum to zero by adjusting
  // the byte at `offset` (inside that range).
  void AddChecksum(const std::string& file, uint32_t offset, uint32_t start, uint32_t length);

  const std::vector<uint8_t>& script() const { return script_; }

 private:
  uint8_t* NewCommand(Command command);
  std::vector<uint8_t> script_;
};

// Chooses the guest-physical address of one blob.
using TableAllocator =
    std::function<Result<uint64_t>(const std::string& file, uint64_t size, uint32_t align, TableLoader::Zone zone)>;

// Runs a script as firmware does: each ALLOCATE gets an address from
// `allocate`, pointers and checksums are patched, then every allocated blob
// is written to guest memory. Returns where each file went. Unknown commands
// are skipped (as SeaBIOS does); malformed ones are errors.
Result<std::map<std::string, uint64_t>> RunTableLoader(const std::vector<uint8_t>& script,
                                                       const std::map<std::string, std::vector<uint8_t>>& files,
                                                       const TableAllocator& allocate, GuestMemory& memory);

}  // namespace tandem::hw
