// A small ACPI Machine Language encoder (ACPI 6.4 chapter 20, "ACPI Machine
// Language Specification", and 6.4 "Resource Data Types"): just the terms
// tandem's DSDT uses. Every function returns the encoded bytes of one term;
// terms are composed by passing encoded children to their parents.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace tandem::hw::aml {

using Bytes = std::vector<uint8_t>;

// Concatenates encoded terms (a TermList).
Bytes Join(std::initializer_list<Bytes> terms);
void Append(Bytes& out, const Bytes& term);

// PkgLength (20.2.4) of a body `body_size` bytes long: the encoding counts itself.
Bytes PkgLength(size_t body_size);

// A NameString (20.2.2): "\\_SB.PCI0", "^LNKA", "PRQ0"; segments shorter
// than four characters are padded with '_'.
Bytes NameString(const std::string& path);

// Data objects: the shortest integer encoding (ZeroOp, OneOp, Byte/Word/
// DWord/QWordConst) and an EISA ID ("PNP0A03") as a DWordConst.
Bytes Integer(uint64_t value);
Bytes EisaId(const std::string& id);

// Named objects and control.
Bytes Scope(const std::string& name, const Bytes& body);
Bytes Device(const std::string& name, const Bytes& body);
Bytes Name(const std::string& name, const Bytes& value);
Bytes Method(const std::string& name, int arg_count, bool serialized, const Bytes& body);
Bytes If(const Bytes& predicate, const Bytes& body);
Bytes Else(const Bytes& body);
Bytes Return(const Bytes& value);
Bytes Store(const Bytes& source, const Bytes& target);
Bytes And(const Bytes& a, const Bytes& b, const Bytes& target = {});
Bytes Or(const Bytes& a, const Bytes& b, const Bytes& target = {});
Bytes LLess(const Bytes& a, const Bytes& b);
Bytes Package(const std::vector<Bytes>& elements);
Bytes Buffer(const Bytes& bytes);
Bytes CreateDWordField(const Bytes& buffer, const Bytes& byte_index, const std::string& name);
Bytes Arg(int n);
Bytes Local(int n);

// OperationRegion (20.2.5.2) and a Field of named byte-wide units.
enum class RegionSpace : uint8_t { kSystemMemory = 0, kSystemIo = 1, kPciConfig = 2 };
Bytes OperationRegion(const std::string& name, RegionSpace space, uint64_t offset, uint64_t length);
struct FieldUnit {
  std::string name;
  unsigned bits;
};
// ByteAcc, NoLock, Preserve.
Bytes Field(const std::string& region, const std::vector<FieldUnit>& units);

// Resource descriptors (ACPI 6.4 section 6.4), for a ResourceTemplate.
Bytes IoPort(uint16_t min, uint16_t max, uint8_t alignment, uint8_t length);
// IRQ descriptor without flags (edge, active-high, exclusive: an ISA IRQ).
Bytes IrqNoFlags(uint8_t irq);
// Word/DWord address space descriptors of a producer (a bridge's window),
// MinFixed, MaxFixed, PosDecode.
Bytes WordBusNumber(uint16_t min, uint16_t max);
Bytes WordIo(uint16_t min, uint16_t max);
Bytes DWordMemory(uint32_t min, uint32_t max, bool cacheable);
// Extended interrupt descriptor of a consumer: level-triggered, active-high, shared.
Bytes InterruptLevelHighShared(const std::vector<uint32_t>& interrupts);
// A Buffer holding the descriptors and the end tag.
Bytes ResourceTemplate(std::initializer_list<Bytes> descriptors);

}  // namespace tandem::hw::aml
