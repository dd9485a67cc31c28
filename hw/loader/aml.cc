// AML encodings: ACPI 6.4 sections 20.2.2 (names), 20.2.3 (data objects),
// 20.2.4 (package length), 20.2.5 (term objects) and 6.4.2/6.4.3 (small and
// large resource descriptors).
#include "hw/loader/aml.h"

#include <cassert>

namespace tandem::hw::aml {
namespace {

constexpr uint8_t kZeroOp = 0x00, kOneOp = 0x01, kNameOp = 0x08, kBytePrefix = 0x0A, kWordPrefix = 0x0B,
                  kDWordPrefix = 0x0C, kQWordPrefix = 0x0E, kScopeOp = 0x10,
                  kBufferOp = 0x11, kPackageOp = 0x12, kMethodOp = 0x14, kDualNamePrefix = 0x2E,
                  kMultiNamePrefix = 0x2F, kExtOpPrefix = 0x5B, kRootChar = 0x5C, kParentPrefix = 0x5E,
                  kLocal0Op = 0x60, kArg0Op = 0x68, kStoreOp = 0x70, kAndOp = 0x7B, kOrOp = 0x7D,
                  kCreateDWordFieldOp = 0x8A, kLLessOp = 0x95, kIfOp = 0xA0, kElseOp = 0xA1, kReturnOp = 0xA4;
constexpr uint8_t kOpRegionOp = 0x80, kFieldOp = 0x81, kDeviceOp = 0x82;  // after kExtOpPrefix

void PutLe(Bytes& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

// The PkgLength byte layout for a value (20.2.4): one byte up to 63, else a
// lead byte holding the count of following bytes and the low nibble.
Bytes EncodeLength(size_t value) {
  if (value < 0x40) return {static_cast<uint8_t>(value)};
  int extra = value < (1u << 12) ? 1 : value < (1u << 20) ? 2 : 3;
  assert(value < (1u << 28));
  Bytes out{static_cast<uint8_t>((extra << 6) | (value & 0xF))};
  for (int i = 0; i < extra; ++i) out.push_back(static_cast<uint8_t>(value >> (4 + 8 * i)));
  return out;
}

Bytes NameSeg(const std::string& seg) {
  assert(!seg.empty() && seg.size() <= 4);
  Bytes out(seg.begin(), seg.end());
  out.resize(4, '_');
  return out;
}

// A term with a PkgLength: opcode bytes, PkgLength, then the body.
Bytes WithLength(Bytes op, const Bytes& body) {
  Append(op, PkgLength(body.size()));
  Append(op, body);
  return op;
}

Bytes AddressSpace(uint8_t tag, int width, uint8_t type, uint8_t type_flags, uint64_t min, uint64_t max) {
  const uint16_t length = static_cast<uint16_t>(3 + 5 * width);  // after the 3-byte header
  Bytes out{tag};
  PutLe(out, length, 2);
  out.push_back(type);
  out.push_back(0x0C);  // producer, positive decode, min and max fixed
  out.push_back(type_flags);
  PutLe(out, 0, width);              // granularity
  PutLe(out, min, width);
  PutLe(out, max, width);
  PutLe(out, 0, width);              // translation offset
  PutLe(out, max - min + 1, width);  // length
  return out;
}

}  // namespace

void Append(Bytes& out, const Bytes& term) { out.insert(out.end(), term.begin(), term.end()); }

Bytes Join(std::initializer_list<Bytes> terms) {
  Bytes out;
  for (const Bytes& t : terms) Append(out, t);
  return out;
}

Bytes PkgLength(size_t body_size) {
  // The encoded length includes the PkgLength bytes themselves.
  for (size_t extra = 0; extra < 4; ++extra) {
    Bytes out = EncodeLength(body_size + 1 + extra);
    if (out.size() == extra + 1) return out;
  }
  assert(false && "AML package too large");
  return {};
}

Bytes NameString(const std::string& path) {
  Bytes out;
  size_t i = 0;
  while (i < path.size() && (path[i] == '\\' || path[i] == '^')) {
    out.push_back(path[i] == '\\' ? kRootChar : kParentPrefix);
    ++i;
  }
  std::vector<std::string> segs;
  while (i < path.size()) {
    size_t dot = path.find('.', i);
    if (dot == std::string::npos) dot = path.size();
    segs.push_back(path.substr(i, dot - i));
    i = dot + 1;
  }
  if (segs.empty()) {
    out.push_back(kZeroOp);  // NullName
  } else if (segs.size() == 2) {
    out.push_back(kDualNamePrefix);
  } else if (segs.size() > 2) {
    out.push_back(kMultiNamePrefix);
    out.push_back(static_cast<uint8_t>(segs.size()));
  }
  for (const std::string& s : segs) Append(out, NameSeg(s));
  return out;
}

Bytes Integer(uint64_t value) {
  if (value == 0) return {kZeroOp};
  if (value == 1) return {kOneOp};
  Bytes out;
  if (value <= 0xFF) {
    out.push_back(kBytePrefix);
    PutLe(out, value, 1);
  } else if (value <= 0xFFFF) {
    out.push_back(kWordPrefix);
    PutLe(out, value, 2);
  } else if (value <= 0xFFFFFFFF) {
    out.push_back(kDWordPrefix);
    PutLe(out, value, 4);
  } else {
    out.push_back(kQWordPrefix);
    PutLe(out, value, 8);
  }
  return out;
}

// Three letters in 5 bits each and four hex digits, stored big-endian
// (ACPI 6.4 section 6.1.5, _HID "EISA type ID").
Bytes EisaId(const std::string& id) {
  assert(id.size() == 7);
  auto letter = [](char c) { return static_cast<uint32_t>(c - 0x40) & 0x1F; };
  uint32_t v = (letter(id[0]) << 26) | (letter(id[1]) << 21) | (letter(id[2]) << 16) |
               static_cast<uint32_t>(std::stoul(id.substr(3), nullptr, 16));
  Bytes out{kDWordPrefix};
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
  return out;
}

Bytes Scope(const std::string& name, const Bytes& body) {
  return WithLength({kScopeOp}, Join({NameString(name), body}));
}

Bytes Device(const std::string& name, const Bytes& body) {
  return WithLength({kExtOpPrefix, kDeviceOp}, Join({NameString(name), body}));
}

Bytes Name(const std::string& name, const Bytes& value) { return Join({{kNameOp}, NameString(name), value}); }

Bytes Method(const std::string& name, int arg_count, bool serialized, const Bytes& body) {
  assert(arg_count >= 0 && arg_count <= 7);
  uint8_t flags = static_cast<uint8_t>(arg_count | (serialized ? 0x08 : 0));
  return WithLength({kMethodOp}, Join({NameString(name), {flags}, body}));
}

Bytes If(const Bytes& predicate, const Bytes& body) { return WithLength({kIfOp}, Join({predicate, body})); }
Bytes Else(const Bytes& body) { return WithLength({kElseOp}, body); }
Bytes Return(const Bytes& value) { return Join({{kReturnOp}, value}); }
Bytes Store(const Bytes& source, const Bytes& target) { return Join({{kStoreOp}, source, target}); }

// An empty target is the NullName: the result is only returned.
Bytes And(const Bytes& a, const Bytes& b, const Bytes& target) {
  return Join({{kAndOp}, a, b, target.empty() ? Bytes{kZeroOp} : target});
}
Bytes Or(const Bytes& a, const Bytes& b, const Bytes& target) {
  return Join({{kOrOp}, a, b, target.empty() ? Bytes{kZeroOp} : target});
}
Bytes LLess(const Bytes& a, const Bytes& b) { return Join({{kLLessOp}, a, b}); }

Bytes Package(const std::vector<Bytes>& elements) {
  assert(elements.size() <= 255);
  Bytes body{static_cast<uint8_t>(elements.size())};
  for (const Bytes& e : elements) Append(body, e);
  return WithLength({kPackageOp}, body);
}

Bytes Buffer(const Bytes& bytes) { return WithLength({kBufferOp}, Join({Integer(bytes.size()), bytes})); }

Bytes CreateDWordField(const Bytes& buffer, const Bytes& byte_index, const std::string& name) {
  return Join({{kCreateDWordFieldOp}, buffer, byte_index, NameString(name)});
}

Bytes Arg(int n) { return {static_cast<uint8_t>(kArg0Op + n)}; }
Bytes Local(int n) { return {static_cast<uint8_t>(kLocal0Op + n)}; }

Bytes OperationRegion(const std::string& name, RegionSpace space, uint64_t offset, uint64_t length) {
  return Join({{kExtOpPrefix, kOpRegionOp}, NameString(name), {static_cast<uint8_t>(space)}, Integer(offset),
               Integer(length)});
}

Bytes Field(const std::string& region, const std::vector<FieldUnit>& units) {
  constexpr uint8_t kByteAccNoLockPreserve = 0x01;
  Bytes body = NameString(region);
  body.push_back(kByteAccNoLockPreserve);
  for (const FieldUnit& u : units) {
    Append(body, NameSeg(u.name));
    Append(body, EncodeLength(u.bits));  // a bit count, PkgLength-encoded but not self-inclusive
  }
  return WithLength({kExtOpPrefix, kFieldOp}, body);
}

Bytes IoPort(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length) {
  Bytes out{0x47, 0x01};  // I/O port descriptor, 16-bit decode
  PutLe(out, min, 2);
  PutLe(out, max, 2);
  out.push_back(alignment);
  out.push_back(length);
  return out;
}

Bytes IrqNoFlags(uint8_t irq) {
  Bytes out{0x22};  // small IRQ descriptor, 2 bytes: the mask of IRQs 0-15
  PutLe(out, uint64_t{1} << irq, 2);
  return out;
}

Bytes WordBusNumber(uint16_t min, uint16_t max) { return AddressSpace(0x88, 2, 2, 0x00, min, max); }
// I/O type flags: _RNG = 3, the window covers ISA and non-ISA ports.
Bytes WordIo(uint16_t min, uint16_t max) { return AddressSpace(0x88, 2, 1, 0x03, min, max); }
// Memory type flags: read/write, _MEM cacheable (1) or non-cacheable (0).
Bytes DWordMemory(uint32_t min, uint32_t max, bool cacheable) {
  return AddressSpace(0x87, 4, 0, cacheable ? 0x03 : 0x01, min, max);
}

Bytes InterruptLevelHighShared(const std::vector<uint32_t>& interrupts) {
  Bytes out{0x89};
  PutLe(out, 2 + 4 * interrupts.size(), 2);
  out.push_back(0x09);  // consumer, level, active-high, shared
  out.push_back(static_cast<uint8_t>(interrupts.size()));
  for (uint32_t irq : interrupts) PutLe(out, irq, 4);
  return out;
}

Bytes ResourceTemplate(std::initializer_list<Bytes> descriptors) {
  Bytes body = Join(descriptors);
  Append(body, {0x79, 0x00});  // end tag; a zero checksum means "valid"
  return Buffer(body);
}

}  // namespace tandem::hw::aml
