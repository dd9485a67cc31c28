// The linker/loader command layout of QEMU's include/hw/acpi/bios-linker-loader.h
// (BiosLinkerLoaderEntry): u32 command, then per command
//   ALLOCATE:     char file[56], u32 align, u8 zone
//   ADD_POINTER:  char dest_file[56], char src_file[56], u32 offset, u8 size
//   ADD_CHECKSUM: char file[56], u32 offset, u32 start, u32 length
// padded to 128 bytes.
#include "hw/loader/table_loader.h"

#include <cassert>
#include <cstring>

namespace tandem::hw {
namespace {

void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint32_t GetU32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

void PutName(uint8_t* p, const std::string& name) {
  assert(name.size() < TableLoader::kFileNameSize);
  std::memcpy(p, name.data(), name.size());
}

// A name field must be NUL-terminated inside its 56 bytes.
Result<std::string> GetName(const uint8_t* p) {
  if (p[TableLoader::kFileNameSize - 1] != 0) return Status::Error("table loader: unterminated file name");
  return std::string(reinterpret_cast<const char*>(p));
}

}  // namespace

uint8_t* TableLoader::NewCommand(Command command) {
  script_.resize(script_.size() + kCommandSize, 0);
  uint8_t* entry = script_.data() + script_.size() - kCommandSize;
  PutU32(entry, command);
  return entry;
}

void TableLoader::Allocate(const std::string& file, uint32_t align, Zone zone) {
  uint8_t* e = NewCommand(kAllocate);
  PutName(e + 4, file);
  PutU32(e + 60, align);
  e[64] = static_cast<uint8_t>(zone);
}

void TableLoader::AddPointer(const std::string& dest_file, uint32_t offset, uint8_t size,
                             const std::string& src_file) {
  uint8_t* e = NewCommand(kAddPointer);
  PutName(e + 4, dest_file);
  PutName(e + 60, src_file);
  PutU32(e + 116, offset);
  e[120] = size;
}

void TableLoader::AddChecksum(const std::string& file, uint32_t offset, uint32_t start, uint32_t length) {
  uint8_t* e = NewCommand(kAddChecksum);
  PutName(e + 4, file);
  PutU32(e + 60, offset);
  PutU32(e + 64, start);
  PutU32(e + 68, length);
}

Result<std::map<std::string, uint64_t>> RunTableLoader(const std::vector<uint8_t>& script,
                                                       const std::map<std::string, std::vector<uint8_t>>& files,
                                                       const TableAllocator& allocate, GuestMemory& memory) {
  if (script.size() % TableLoader::kCommandSize) return Status::Error("table loader: truncated command");
  struct Placed {
    uint64_t address;
    std::vector<uint8_t> data;
  };
  std::map<std::string, Placed> placed;
  auto find = [&](const uint8_t* name_field) -> Result<Placed*> {
    auto name = GetName(name_field);
    if (!name.ok()) return name.status();
    auto it = placed.find(*name);
    if (it == placed.end()) return Status::Error("table loader: '" + *name + "' is not allocated");
    return &it->second;
  };

  for (size_t at = 0; at < script.size(); at += TableLoader::kCommandSize) {
    const uint8_t* e = script.data() + at;
    switch (GetU32(e)) {
      case TableLoader::kAllocate: {
        auto name = GetName(e + 4);
        if (!name.ok()) return name.status();
        uint32_t align = GetU32(e + 60);
        if (align & (align - 1)) return Status::Error("table loader: alignment is not a power of two");
        auto file = files.find(*name);
        if (file == files.end()) return Status::Error("table loader: no file '" + *name + "'");
        if (placed.count(*name)) return Status::Error("table loader: '" + *name + "' allocated twice");
        auto zone = static_cast<TableLoader::Zone>(e[64]);
        if (zone != TableLoader::Zone::kHigh && zone != TableLoader::Zone::kFSeg) {
          return Status::Error("table loader: unknown zone for '" + *name + "'");
        }
        auto address = allocate(*name, file->second.size(), align ? align : 1, zone);
        if (!address.ok()) return address.status();
        placed[*name] = Placed{*address, file->second};
        break;
      }
      case TableLoader::kAddPointer: {
        auto dest = find(e + 4);
        if (!dest.ok()) return dest.status();
        auto src = find(e + 60);
        if (!src.ok()) return src.status();
        uint32_t offset = GetU32(e + 116);
        uint8_t size = e[120];
        std::vector<uint8_t>& d = (*dest)->data;
        if ((size != 1 && size != 2 && size != 4 && size != 8) || offset > d.size() || d.size() - offset < size) {
          return Status::Error("table loader: pointer outside its file");
        }
        uint64_t pointer = 0;
        for (int i = 0; i < size; ++i) pointer |= uint64_t{d[offset + i]} << (8 * i);
        pointer += (*src)->address;
        if (size < 8 && pointer >> (8 * size)) return Status::Error("table loader: pointer does not fit");
        for (int i = 0; i < size; ++i) d[offset + i] = static_cast<uint8_t>(pointer >> (8 * i));
        break;
      }
      case TableLoader::kAddChecksum: {
        auto file = find(e + 4);
        if (!file.ok()) return file.status();
        uint32_t offset = GetU32(e + 60), start = GetU32(e + 64), length = GetU32(e + 68);
        std::vector<uint8_t>& d = (*file)->data;
        if (offset >= d.size() || start > d.size() || d.size() - start < length) {
          return Status::Error("table loader: checksum outside its file");
        }
        uint8_t sum = 0;
        for (uint32_t i = 0; i < length; ++i) sum += d[start + i];
        d[offset] -= sum;
        break;
      }
      default:
        break;  // later QEMU commands (WRITE_POINTER) are not used by tandem's tables
    }
  }

  std::map<std::string, uint64_t> addresses;
  for (const auto& [name, p] : placed) {
    if (!memory.WritePhys(p.address, p.data.data(), p.data.size())) {
      return Status::Error("table loader: no memory for '" + name + "'");
    }
    addresses[name] = p.address;
  }
  return addresses;
}

}  // namespace tandem::hw
