// libFuzzer harness for the boot image loaders (hw/loader): whatever the
// bytes of a --kernel file, the Linux bzImage loader and the Multiboot
// loader return an image in guest memory or an error; they never crash or
// write outside guest RAM (ASan watches the host side). Inputs are the file
// itself; a bzImage needs its "HdrS" header at 0x202, so the harness also
// tries each input with a minimal valid setup header written over it.
#include <cstdint>
#include <cstring>
#include <vector>

#include "hw/guest_memory.h"
#include "hw/loader/linux_boot.h"
#include "hw/loader/multiboot.h"

namespace {

using namespace tandem;

hw::GuestMemory& Memory() {
  static hw::GuestMemory memory = [] {
    auto map = hw::MemoryMap::Build(96ull << 20, 0);
    if (!map.ok()) __builtin_trap();
    auto mem = hw::GuestMemory::Create(*map, {});
    if (!mem.ok()) __builtin_trap();
    return std::move(*mem);
  }();
  return memory;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> image(data, data + size);
  const std::vector<uint8_t> initrd(size % 8192, 0x5A);
  (void)hw::LoadLinux(Memory(), image, initrd, "console=ttyS0", x86::CpuidModel::Default(), 1 + size % 3);
  (void)hw::LoadMultiboot(Memory(), image, "fuzz");
  // The same bytes behind a setup header the loader accepts, so the fuzzer
  // gets past the magic into the fields that size and place things.
  if (image.size() < 0x300) image.resize(0x300);
  image[0x1FE] = 0x55;
  image[0x1FF] = 0xAA;
  std::memcpy(&image[0x202], "HdrS", 4);
  image[0x207] = 2;  // protocol 2.x
  image[0x211] |= 0x01;  // LOADED_HIGH
  (void)hw::LoadLinux(Memory(), image, initrd, std::string(size % 300, 'x'));
  return 0;
}
