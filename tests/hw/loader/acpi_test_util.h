// Test-side readers for ACPI tables, written independently of the builder:
// a linker/loader executor modelled on SeaBIOS's src/fw/romfile_loader.c,
// an RSDP scan and table walk that checks every checksum, and a decoder for
// the DSDT's static _PRT packages.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "hw/guest_memory.h"

namespace tandem::hw::testing {

inline uint32_t Le32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | uint32_t{p[3]} << 24; }

inline uint8_t Sum(const uint8_t* p, size_t n) {
  uint8_t s = 0;
  for (size_t i = 0; i < n; ++i) s += p[i];
  return s;
}

// Executes a table-loader script the way SeaBIOS does: ALLOCATE takes the
// next aligned address in its zone (high: from high_base, FSEG: from
// fseg_base) and copies the file there; ADD_POINTER adds the source file's
// address to the little-endian value in place; ADD_CHECKSUM subtracts the
// sum of the range from the checksum byte. Everything happens in guest RAM.
inline std::map<std::string, uint64_t> ApplyLikeSeaBios(const std::vector<uint8_t>& script,
                                                        const std::map<std::string, std::vector<uint8_t>>& files,
                                                        uint64_t high_base, uint64_t fseg_base, GuestMemory& mem) {
  std::map<std::string, uint64_t> at;
  std::map<std::string, size_t> size;
  uint64_t next[3] = {0, high_base, fseg_base};
  EXPECT_EQ(script.size() % 128, 0u);
  for (size_t off = 0; off + 128 <= script.size(); off += 128) {
    const uint8_t* e = &script[off];
    const char* name = reinterpret_cast<const char*>(e + 4);
    switch (Le32(e)) {
      case 1: {  // ALLOCATE
        uint32_t align = std::max<uint32_t>(Le32(e + 60), 16);
        uint8_t zone = e[64];
        EXPECT_TRUE(zone == 1 || zone == 2);
        EXPECT_EQ(align & (align - 1), 0u);
        auto f = files.find(name);
        EXPECT_NE(f, files.end()) << name;
        if (f == files.end()) break;
        uint64_t a = (next[zone] + align - 1) & ~uint64_t{align - 1};
        next[zone] = a + f->second.size();
        EXPECT_TRUE(mem.WritePhys(a, f->second.data(), f->second.size()));
        at[name] = a;
        size[name] = f->second.size();
        break;
      }
      case 2: {  // ADD_POINTER
        std::string dest = name, src = reinterpret_cast<const char*>(e + 60);
        uint32_t offset = Le32(e + 116);
        uint8_t n = e[120];
        EXPECT_TRUE(at.count(dest) && at.count(src)) << dest << " " << src;
        EXPECT_TRUE(n == 1 || n == 2 || n == 4 || n == 8);
        EXPECT_LE(offset + n, size[dest]);
        uint64_t pointer = 0;
        mem.ReadPhys(at[dest] + offset, &pointer, n);
        pointer += at[src];
        mem.WritePhys(at[dest] + offset, &pointer, n);
        break;
      }
      case 3: {  // ADD_CHECKSUM
        uint32_t offset = Le32(e + 60), start = Le32(e + 64), length = Le32(e + 68);
        EXPECT_TRUE(at.count(name)) << name;
        EXPECT_LT(offset, size[name]);
        EXPECT_LE(start + length, size[name]);
        std::vector<uint8_t> range(length);
        mem.ReadPhys(at[name] + start, range.data(), length);
        uint8_t c;
        mem.ReadPhys(at[name] + offset, &c, 1);
        c -= Sum(range.data(), length);
        mem.WritePhys(at[name] + offset, &c, 1);
        break;
      }
      default:
        ADD_FAILURE() << "unknown loader command " << Le32(e);
    }
  }
  return at;
}

// The tables an OS finds: RSDP by a scan of 0xE0000-0xFFFFF, then RSDT ->
// each table, FACP -> FACS and DSDT. Checks every signature and checksum.
struct FoundTables {
  uint64_t rsdp = 0;
  std::map<std::string, uint64_t> address;       // by signature
  std::map<std::string, std::vector<uint8_t>> bytes;
};

inline std::vector<uint8_t> ReadRam(const GuestMemory& mem, uint64_t gpa, size_t n) {
  std::vector<uint8_t> b(n);
  EXPECT_TRUE(mem.ReadPhys(gpa, b.data(), n)) << std::hex << gpa;
  return b;
}

inline FoundTables FindTables(const GuestMemory& mem) {
  FoundTables t;
  std::vector<uint8_t> area = ReadRam(mem, 0xE0000, 0x20000);
  for (size_t off = 0; off < area.size(); off += 16) {
    if (std::memcmp(&area[off], "RSD PTR ", 8) == 0 && Sum(&area[off], 20) == 0) {
      t.rsdp = 0xE0000 + off;
      break;
    }
  }
  if (!t.rsdp) {
    ADD_FAILURE() << "no RSDP";
    return t;
  }
  auto table = [&](uint64_t gpa, const std::string& signature) {
    std::vector<uint8_t> header = ReadRam(mem, gpa, 8);
    EXPECT_EQ(std::string(header.begin(), header.begin() + 4), signature);
    std::vector<uint8_t> b = ReadRam(mem, gpa, Le32(&header[4]));
    if (signature != "FACS") {
      EXPECT_EQ(Sum(b.data(), b.size()), 0) << signature;
    }
    t.address[signature] = gpa;
    t.bytes[signature] = b;
    return b;
  };
  std::vector<uint8_t> rsdp = ReadRam(mem, t.rsdp, 20);
  std::vector<uint8_t> rsdt = table(Le32(&rsdp[16]), "RSDT");
  for (size_t i = 36; i + 4 <= rsdt.size(); i += 4) {
    uint64_t gpa = Le32(&rsdt[i]);
    std::vector<uint8_t> sig = ReadRam(mem, gpa, 4);
    table(gpa, std::string(sig.begin(), sig.end()));
  }
  if (t.bytes.count("FACP")) {
    const std::vector<uint8_t>& fadt = t.bytes["FACP"];
    table(Le32(&fadt[36]), "FACS");
    table(Le32(&fadt[40]), "DSDT");
  }
  return t;
}

// One _PRT entry: Package { address, pin, source (a NameString), index }.
struct PrtEntry {
  uint32_t address;
  uint8_t pin;
  std::string source;
  uint32_t index;
};

// Reads a PkgLength at p; returns the value and advances p past it.
inline size_t ReadPkgLength(const uint8_t*& p) {
  uint8_t lead = *p++;
  int extra = lead >> 6;
  if (!extra) return lead & 0x3F;
  size_t v = lead & 0x0F;
  for (int i = 0; i < extra; ++i) v |= size_t{*p++} << (4 + 8 * i);
  return v;
}

inline uint64_t ReadInteger(const uint8_t*& p) {
  uint8_t op = *p++;
  int n = op == 0x0A ? 1 : op == 0x0B ? 2 : op == 0x0C ? 4 : op == 0x0E ? 8 : 0;
  if (op == 0x00 || op == 0x01) return op;
  EXPECT_NE(n, 0) << "not an integer opcode: " << int(op);
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t{*p++} << (8 * i);
  return v;
}

// Finds `Name (NAME, Package ...)` in the AML and decodes its entries.
inline std::vector<PrtEntry> DecodeRoutingPackage(const std::vector<uint8_t>& dsdt, const char* name) {
  std::vector<PrtEntry> out;
  const uint8_t pattern[] = {0x08, uint8_t(name[0]), uint8_t(name[1]), uint8_t(name[2]), uint8_t(name[3]), 0x12};
  auto it = std::search(dsdt.begin() + 36, dsdt.end(), std::begin(pattern), std::end(pattern));
  if (it == dsdt.end()) {
    ADD_FAILURE() << "no Name (" << name << ", Package)";
    return out;
  }
  const uint8_t* p = &*it + sizeof pattern;
  const uint8_t* start = p;
  size_t length = ReadPkgLength(p);
  const uint8_t* end = start + length;
  EXPECT_LE(end, dsdt.data() + dsdt.size());
  uint8_t count = *p++;
  for (int i = 0; i < count && p < end; ++i) {
    EXPECT_EQ(*p, 0x12) << "entry " << i << " is not a package";
    ++p;
    const uint8_t* entry_start = p;
    size_t entry_length = ReadPkgLength(p);
    EXPECT_EQ(*p++, 4) << "entry " << i;
    PrtEntry e;
    e.address = static_cast<uint32_t>(ReadInteger(p));
    e.pin = static_cast<uint8_t>(ReadInteger(p));
    e.source.assign(reinterpret_cast<const char*>(p), 4);
    p += 4;
    e.index = static_cast<uint32_t>(ReadInteger(p));
    EXPECT_EQ(p, entry_start + entry_length) << "entry " << i;
    out.push_back(e);
  }
  EXPECT_EQ(p, end);
  return out;
}

}  // namespace tandem::hw::testing
