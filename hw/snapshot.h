// Snapshot files: a stopped guest's complete state (every vCPU's
// x86::CpuState, every device through Board::VisitState, guest time, and RAM
// and ROM stored sparsely: pages of zeros are left out), written for QMP's
// `migrate` to "file:PATH" and read by `tandem run --incoming file:PATH`
// (QEMU's spellings). The vCPU states are engine-neutral, so a snapshot
// taken on one engine resumes on any other.
//
// Layout: the magic line "TANDEM SNAPSHOT\n", a 32-bit format version, the
// body, and a 64-bit checksum of everything before it. The body starts with
// the board configuration it was taken on (RAM size, CPU count, firmware size,
// devices, disk images with their sizes), checked before anything is loaded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hw/board.h"
#include "hw/state_visitor.h"
#include "hw/status.h"
#include "target-x86/cpu_state.h"

namespace tandem::hw {

// Bumped whenever a VisitState() field list changes.
inline constexpr uint32_t kSnapshotVersion = 2;

// Writes `path` through a temporary file renamed into place, so a reader
// never sees half a snapshot. `cpus` in vCPU order; `engine` names the engine
// that ran them. The world must be paused.
Status SaveSnapshot(const std::string& path, Board& board, std::vector<x86::CpuState> cpus,
                    const std::string& engine);

struct LoadedSnapshot {
  std::vector<x86::CpuState> cpus;  // for the engine's vCPUs, in order
  std::string engine;               // the engine that took it
};
// Reads `path` into `board` (RAM, ROM, device state, guest time) and returns
// the vCPU states. A file that is not a snapshot, of another format version,
// truncated or corrupted, or taken on another board configuration: an error
// that says which, before the board is touched.
Result<LoadedSnapshot> LoadSnapshot(const std::string& path, Board& board);

// The same for a snapshot already in memory (`name` appears in errors); a
// SaveSnapshot() into memory. For the reader's fuzzer and tests.
Result<LoadedSnapshot> LoadSnapshotBytes(const std::vector<uint8_t>& bytes, const std::string& name, Board& board);
Result<std::vector<uint8_t>> SnapshotBytes(Board& board, std::vector<x86::CpuState> cpus, const std::string& engine);
// The checksum that ends a snapshot, over the bytes before it.
uint64_t SnapshotChecksum(const uint8_t* data, size_t size);

// The CpuState fields in snapshot order.
void VisitCpuState(StateVisitor& v, x86::CpuState& s);

}  // namespace tandem::hw
