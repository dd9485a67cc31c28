// AML encodings against the byte sequences of ACPI 6.4 chapter 20 (and what
// iasl emits for the same ASL).
#include "hw/loader/aml.h"

#include <gtest/gtest.h>

namespace tandem::hw::aml {
namespace {

TEST(AmlTest, PkgLengthCountsItselfAndGrowsAsNeeded) {
  EXPECT_EQ(PkgLength(0), (Bytes{0x01}));
  EXPECT_EQ(PkgLength(62), (Bytes{0x3F}));
  // 63 + 1 no longer fits six bits: two bytes, total 65 = 0x41.
  EXPECT_EQ(PkgLength(63), (Bytes{0x41, 0x04}));
  EXPECT_EQ(PkgLength(0xFFD), (Bytes{0x4F, 0xFF}));            // 0xFFF in two bytes
  EXPECT_EQ(PkgLength(0xFFE), (Bytes{0x81, 0x00, 0x01}));      // 0x1001 needs three
  EXPECT_EQ(PkgLength(0x100000), (Bytes{0xC4, 0x00, 0x00, 0x01}));  // 0x100004 needs four
}

TEST(AmlTest, NameStrings) {
  EXPECT_EQ(NameString("_S5"), (Bytes{'_', 'S', '5', '_'}));
  EXPECT_EQ(NameString("\\_SB"), (Bytes{'\\', '_', 'S', 'B', '_'}));
  EXPECT_EQ(NameString("\\_SB.PCI0"), (Bytes{'\\', 0x2E, '_', 'S', 'B', '_', 'P', 'C', 'I', '0'}));
  EXPECT_EQ(NameString("PCI0.ISA.P40C"),
            (Bytes{0x2F, 3, 'P', 'C', 'I', '0', 'I', 'S', 'A', '_', 'P', '4', '0', 'C'}));
  EXPECT_EQ(NameString("^LNKA"), (Bytes{'^', 'L', 'N', 'K', 'A'}));
  EXPECT_EQ(NameString("\\"), (Bytes{'\\', 0x00}));
}

TEST(AmlTest, IntegersUseTheShortestForm) {
  EXPECT_EQ(Integer(0), (Bytes{0x00}));
  EXPECT_EQ(Integer(1), (Bytes{0x01}));
  EXPECT_EQ(Integer(0x80), (Bytes{0x0A, 0x80}));
  EXPECT_EQ(Integer(0xCF8), (Bytes{0x0B, 0xF8, 0x0C}));
  EXPECT_EQ(Integer(0x0001FFFF), (Bytes{0x0C, 0xFF, 0xFF, 0x01, 0x00}));
  EXPECT_EQ(Integer(0x100000000), (Bytes{0x0E, 0, 0, 0, 0, 1, 0, 0, 0}));
}

TEST(AmlTest, EisaIds) {
  EXPECT_EQ(EisaId("PNP0A03"), (Bytes{0x0C, 0x41, 0xD0, 0x0A, 0x03}));
  EXPECT_EQ(EisaId("PNP0C0F"), (Bytes{0x0C, 0x41, 0xD0, 0x0C, 0x0F}));
}

TEST(AmlTest, NamedObjectsAndControl) {
  // Method (_PIC, 1, NotSerialized) { Store (Arg0, PICF) }
  EXPECT_EQ(Method("_PIC", 1, false, Store(Arg(0), NameString("PICF"))),
            (Bytes{0x14, 0x0C, '_', 'P', 'I', 'C', 0x01, 0x70, 0x68, 'P', 'I', 'C', 'F'}));
  EXPECT_EQ(Method("_CRS", 0, true, {})[6], 0x08);  // Serialized flag
  // If (PICF) { Return (PRTA) }
  EXPECT_EQ(If(NameString("PICF"), Return(NameString("PRTA"))),
            (Bytes{0xA0, 0x0A, 'P', 'I', 'C', 'F', 0xA4, 'P', 'R', 'T', 'A'}));
  EXPECT_EQ(Device("ISA", Name("_ADR", Integer(0x10000))),
            (Bytes{0x5B, 0x82, 0x0F, 'I', 'S', 'A', '_', 0x08, '_', 'A', 'D', 'R', 0x0C, 0x00, 0x00, 0x01, 0x00}));
  EXPECT_EQ(Package({Integer(5), Integer(0)}), (Bytes{0x12, 0x05, 0x02, 0x0A, 0x05, 0x00}));
  EXPECT_EQ(And(NameString("PRQ0"), Integer(0x80)), (Bytes{0x7B, 'P', 'R', 'Q', '0', 0x0A, 0x80, 0x00}));
  EXPECT_EQ(Or(NameString("PRQ0"), Integer(0x80), NameString("PRQ0")),
            (Bytes{0x7D, 'P', 'R', 'Q', '0', 0x0A, 0x80, 'P', 'R', 'Q', '0'}));
  EXPECT_EQ(CreateDWordField(Arg(0), Integer(5), "PRRI"), (Bytes{0x8A, 0x68, 0x0A, 0x05, 'P', 'R', 'R', 'I'}));
}

TEST(AmlTest, RegionsAndFields) {
  EXPECT_EQ(OperationRegion("P40C", RegionSpace::kPciConfig, 0x60, 4),
            (Bytes{0x5B, 0x80, 'P', '4', '0', 'C', 0x02, 0x0A, 0x60, 0x0A, 0x04}));
  EXPECT_EQ(Field("P40C", {{"PRQ0", 8}, {"PRQ1", 8}}),
            (Bytes{0x5B, 0x81, 0x10, 'P', '4', '0', 'C', 0x01, 'P', 'R', 'Q', '0', 0x08, 'P', 'R', 'Q', '1', 0x08}));
}

TEST(AmlTest, ResourceDescriptors) {
  EXPECT_EQ(IoPort(0xCF8, 0xCF8, 1, 8), (Bytes{0x47, 0x01, 0xF8, 0x0C, 0xF8, 0x0C, 0x01, 0x08}));
  EXPECT_EQ(WordBusNumber(0, 0xFF),
            (Bytes{0x88, 0x0D, 0x00, 0x02, 0x0C, 0x00, 0, 0, 0, 0, 0xFF, 0, 0, 0, 0x00, 0x01}));
  EXPECT_EQ(WordIo(0x0D00, 0xFFFF),
            (Bytes{0x88, 0x0D, 0x00, 0x01, 0x0C, 0x03, 0, 0, 0x00, 0x0D, 0xFF, 0xFF, 0, 0, 0x00, 0xF3}));
  EXPECT_EQ(DWordMemory(0xA0000, 0xBFFFF, true),
            (Bytes{0x87, 0x17, 0x00, 0x00, 0x0C, 0x03, 0, 0, 0, 0, 0x00, 0x00, 0x0A, 0x00, 0xFF, 0xFF, 0x0B, 0x00,
                   0, 0, 0, 0, 0x00, 0x00, 0x02, 0x00}));
  EXPECT_EQ(IrqNoFlags(12), (Bytes{0x22, 0x00, 0x10}));
  EXPECT_EQ(InterruptLevelHighShared({5, 10}),
            (Bytes{0x89, 0x0A, 0x00, 0x09, 0x02, 5, 0, 0, 0, 10, 0, 0, 0}));
  // ResourceTemplate: a Buffer of the descriptors and the end tag.
  EXPECT_EQ(ResourceTemplate({IoPort(0x60, 0x60, 1, 1)}),
            (Bytes{0x11, 0x0D, 0x0A, 0x0A, 0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01, 0x79, 0x00}));
}

}  // namespace
}  // namespace tandem::hw::aml
