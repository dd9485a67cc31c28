// Snapshot files (see snapshot.h).
#include "hw/snapshot.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace tandem::hw {

namespace {

constexpr char kMagic[] = "TANDEM SNAPSHOT\n";
constexpr size_t kMagicSize = sizeof kMagic - 1;
constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kEndOfPages = ~0ull;

}  // namespace

// A 64-bit checksum over 8-byte words (a multiply-rotate mix in the style
// of xxHash's rounds): catches truncation and flipped bytes, not malice.
uint64_t SnapshotChecksum(const uint8_t* data, size_t size) {
  uint64_t h = 0x27D4EB2F165667C5ull ^ size;
  auto mix = [&h](uint64_t word) {
    h ^= word * 0xC2B2AE3D27D4EB4Full;
    h = ((h << 31) | (h >> 33)) * 0x9E3779B97F4A7C15ull;
  };
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t word;
    std::memcpy(&word, data + i, 8);
    mix(word);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, data + i, size - i);
  mix(tail);
  h ^= h >> 29;
  return h * 0x165667B19E3779F9ull;
}

namespace {

bool AllZero(const uint8_t* page) {
  uint64_t acc = 0;
  for (uint64_t i = 0; i < kPageSize; i += 8) {
    uint64_t word;
    std::memcpy(&word, page + i, 8);
    acc |= word;
  }
  return acc == 0;
}

// What must match between the board that took a snapshot and the one that
// loads it: everything that decides the device list and the memory layout.
struct BoardFingerprint {
  struct Drive {
    std::string path;
    uint64_t size = 0;
    bool read_only = false;
  };
  uint64_t ram_size = 0;
  uint32_t cpu_count = 0;
  uint64_t rom_size = 0;
  bool virtio_rng = false;
  uint8_t nic = 0;
  std::vector<Drive> drives;

  static BoardFingerprint Of(const Board& board) {
    const BoardConfig& c = board.config();
    BoardFingerprint f;
    f.ram_size = c.ram_size;
    f.cpu_count = static_cast<uint32_t>(c.cpu_count);
    f.rom_size = c.bios.size();
    f.virtio_rng = c.virtio_rng;
    f.nic = static_cast<uint8_t>(c.nic.kind);
    for (const DriveConfig& d : c.drives) {
      std::error_code ec;
      uint64_t size = std::filesystem::file_size(d.path, ec);
      f.drives.push_back({d.path, ec ? 0 : size, d.read_only});
    }
    return f;
  }

  void Visit(StateVisitor& v) {
    v(ram_size, cpu_count, rom_size, virtio_rng, nic);
    uint32_t n = static_cast<uint32_t>(drives.size());
    v(n);
    if (v.loading()) {
      if (n > 64) return v.Fail("a board with " + std::to_string(n) + " drives");
      drives.assign(n, Drive{});
    }
    for (Drive& d : drives) v(d.path, d.size, d.read_only);
  }

  // Why a snapshot taken on `taken` cannot load on this board, or "".
  std::string Mismatch(const BoardFingerprint& taken) const {
    auto mib = [](uint64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; };
    auto count = [](uint64_t n, const char* what) { return std::to_string(n) + " " + what + (n == 1 ? "" : "s"); };
    if (taken.ram_size != ram_size) {
      return "taken with " + mib(taken.ram_size) + " of RAM, this board has " + mib(ram_size) + " (-m)";
    }
    if (taken.cpu_count != cpu_count) {
      return "taken with " + count(taken.cpu_count, "CPU") + ", this board has " + count(cpu_count, "CPU") + " (--smp)";
    }
    if (taken.rom_size != rom_size) {
      return "taken with a " + std::to_string(taken.rom_size >> 10) + " KiB firmware ROM, this board has " +
             std::to_string(rom_size >> 10) + " KiB (--bios)";
    }
    if (taken.virtio_rng != virtio_rng) {
      return std::string("taken ") + (taken.virtio_rng ? "with" : "without") + " virtio-rng (--no-rng)";
    }
    if (taken.nic != nic) return "taken with another --nic";
    if (taken.drives.size() != drives.size()) {
      return "taken with " + count(taken.drives.size(), "drive") + ", this board has " + count(drives.size(), "drive") +
             " (--drive)";
    }
    for (size_t i = 0; i < drives.size(); ++i) {
      const Drive& a = taken.drives[i];
      const Drive& b = drives[i];
      if (a.path != b.path) return "drive " + std::to_string(i) + " was " + a.path + ", here it is " + b.path;
      if (a.size != b.size) {
        return "drive " + a.path + " had " + std::to_string(a.size) + " bytes, now " + std::to_string(b.size);
      }
      if (a.read_only != b.read_only) return "drive " + a.path + " had another readonly= setting";
    }
    return "";
  }
};

// RAM or ROM as (page index, 4096 bytes) records for the pages that are not
// all zeros, ending with kEndOfPages. On load, the memory was zeroed first.
void VisitPages(StateVisitor& v, uint8_t* base, uint64_t size) {
  const uint64_t pages = size / kPageSize;
  if (!v.loading()) {
    for (uint64_t i = 0; i < pages; ++i) {
      uint8_t* page = base + i * kPageSize;
      if (AllZero(page)) continue;
      v(i);
      v.Raw(page, kPageSize);
    }
    uint64_t end = kEndOfPages;
    v(end);
    return;
  }
  for (;;) {
    uint64_t i = kEndOfPages;
    v(i);
    if (i == kEndOfPages || !v.error().empty()) return;
    if (i >= pages) return v.Fail("a page beyond guest memory");
    v.Raw(base + i * kPageSize, kPageSize);
  }
}

}  // namespace

void VisitCpuState(StateVisitor& v, x86::CpuState& s) {
  auto segment = [&v](x86::Segment& seg) { v(seg.selector, seg.base, seg.limit, seg.attrib); };
  v(s.gpr, s.rip, s.rflags);
  for (x86::Segment& seg : s.seg) segment(seg);
  segment(s.ldtr);
  segment(s.tr);
  v(s.gdtr.base, s.gdtr.limit, s.idtr.base, s.idtr.limit);
  v(s.cr0, s.cr2, s.cr3, s.cr4, s.cr8, s.dr, s.xcr0, s.tsc);
  x86::Msrs& m = s.msr;
  v(m.efer, m.star, m.lstar, m.cstar, m.sfmask, m.kernel_gs_base, m.sysenter_cs, m.sysenter_esp, m.sysenter_eip,
    m.tsc_aux, m.apic_base, m.pat, m.misc_enable, m.mtrr_def_type, m.mtrr_fixed, m.mtrr_var);
  v.Raw(&s.fx, sizeof s.fx);  // the FXSAVE image: fixed layout, no padding of ours
  v(s.halted, s.nmi_blocked, s.wait_for_sipi, s.interrupt_shadow, s.nmi_pending);
  x86::PendingEvent& e = s.pending_event;
  v(e.valid, e.exception, e.vector, e.has_error_code, e.error_code);
}

Result<std::vector<uint8_t>> SnapshotBytes(Board& board, std::vector<x86::CpuState> cpus, const std::string& engine) {
  for (const DriveConfig& d : board.config().drives) {
    if (d.snapshot) {
      return Status::Error("drive " + d.path + " has snapshot=on: its writes live in memory a snapshot does not carry");
    }
  }
  StateWriter w;
  w.Raw(const_cast<char*>(kMagic), kMagicSize);
  uint32_t version = kSnapshotVersion;
  w(version);
  w.Section("board-config");
  BoardFingerprint fingerprint = BoardFingerprint::Of(board);
  fingerprint.Visit(w);
  std::string engine_name = engine;
  w.Section("engine");
  w(engine_name);
  uint32_t count = static_cast<uint32_t>(cpus.size());
  w(count);
  for (x86::CpuState& s : cpus) {
    w.Section("cpu");
    VisitCpuState(w, s);
  }
  board.VisitState(w);
  GuestMemory& memory = board.memory();
  w.Section("ram");
  VisitPages(w, memory.ram(), memory.map().ram_size());
  w.Section("rom");
  VisitPages(w, memory.rom(), memory.map().rom_size());
  uint64_t sum = SnapshotChecksum(w.bytes().data(), w.bytes().size());
  w(sum);
  return std::move(w.bytes());
}

Status SaveSnapshot(const std::string& path, Board& board, std::vector<x86::CpuState> cpus,
                    const std::string& engine) {
  auto snapshot = SnapshotBytes(board, std::move(cpus), engine);
  if (!snapshot.ok()) return snapshot.status();
  const std::vector<uint8_t>& bytes = *snapshot;
  const std::string temporary = path + ".tmp";
  int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Error("cannot create " + temporary + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      std::string why = std::strerror(errno);
      close(fd);
      unlink(temporary.c_str());
      return Status::Error("cannot write " + temporary + ": " + why);
    }
    done += static_cast<size_t>(n);
  }
  // On disk before it takes the name: a crash leaves the old file or the new one.
  bool synced = fdatasync(fd) == 0;
  close(fd);
  if (!synced || rename(temporary.c_str(), path.c_str()) != 0) {
    std::string why = std::strerror(errno);
    unlink(temporary.c_str());
    return Status::Error("cannot write " + path + ": " + why);
  }
  return Status();
}

Result<LoadedSnapshot> LoadSnapshot(const std::string& path, Board& board) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error("snapshot " + path + ": cannot open it");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return LoadSnapshotBytes(bytes, path, board);
}

Result<LoadedSnapshot> LoadSnapshotBytes(const std::vector<uint8_t>& bytes, const std::string& path, Board& board) {
  auto fail = [&path](const std::string& why) { return Status::Error("snapshot " + path + ": " + why); };
  if (bytes.size() < kMagicSize || std::memcmp(bytes.data(), kMagic, kMagicSize) != 0) {
    return fail("not a tandem snapshot");
  }
  StateReader header(bytes.data() + kMagicSize, bytes.size() - kMagicSize);
  uint32_t version = 0;
  header(version);
  if (!header.error().empty()) return fail("truncated");
  if (version != kSnapshotVersion) {
    return fail("format version " + std::to_string(version) + ", this tandem reads version " +
                std::to_string(kSnapshotVersion));
  }
  if (bytes.size() < kMagicSize + sizeof version + sizeof(uint64_t)) return fail("truncated");
  const size_t body_end = bytes.size() - sizeof(uint64_t);
  uint64_t stored;
  std::memcpy(&stored, bytes.data() + body_end, sizeof stored);
  if (stored != SnapshotChecksum(bytes.data(), body_end)) return fail("truncated or corrupted (checksum mismatch)");

  const size_t body = kMagicSize + sizeof version;
  StateReader r(bytes.data() + body, body_end - body);
  r.Section("board-config");
  BoardFingerprint taken;
  taken.Visit(r);
  if (!r.error().empty()) return fail(r.error());
  if (std::string why = BoardFingerprint::Of(board).Mismatch(taken); !why.empty()) return fail(why);

  LoadedSnapshot loaded;
  r.Section("engine");
  r(loaded.engine);
  uint32_t count = 0;
  r(count);
  if (count != static_cast<uint32_t>(board.cpu_count())) return fail("CPU records do not match the board");
  loaded.cpus.resize(count);
  for (x86::CpuState& s : loaded.cpus) {
    r.Section("cpu");
    VisitCpuState(r, s);
  }
  if (!r.error().empty()) return fail(r.error());
  board.VisitState(r);
  GuestMemory& memory = board.memory();
  memory.DiscardRam();
  r.Section("ram");
  VisitPages(r, memory.ram(), memory.map().ram_size());
  if (memory.map().rom_size()) std::memset(memory.rom(), 0, memory.map().rom_size());
  r.Section("rom");
  VisitPages(r, memory.rom(), memory.map().rom_size());
  if (!r.error().empty()) return fail(r.error());
  if (!r.at_end()) return fail("more bytes than this tandem's layout has");
  return loaded;
}

}  // namespace tandem::hw
