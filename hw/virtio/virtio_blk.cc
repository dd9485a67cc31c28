// virtio-blk (VIRTIO 1.2 5.2).
#include "hw/virtio/virtio_blk.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace tandem::hw::virtio {

namespace {
constexpr uint64_t kHeaderSize = 16;  // le32 type, le32 reserved, le64 sector
constexpr uint64_t kSegmentSize = 16;  // discard/write-zeroes: le64 sector, le32 num_sectors, le32 flags
constexpr uint32_t kMaxDiscardSectors = 0x3FFFFF;
// One request moves at most this much (Linux sends at most seg_max pages
// per request unless told otherwise); more is refused with IOERR.
constexpr uint64_t kMaxTransfer = 64ull << 20;

uint64_t Le(const uint8_t* p, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// Copies bytes [off, off + n) of the chain's device-readable (or -writable)
// part out of (into) guest memory.
bool CopyChain(DmaMemory& dma, const VirtChain& chain, bool writable, uint64_t off, uint8_t* buf, uint64_t n) {
  for (const VirtBuffer& b : chain.buffers) {
    if (b.device_writable != writable) continue;
    if (off >= b.len) {
      off -= b.len;
      continue;
    }
    uint64_t k = std::min<uint64_t>(b.len - off, n);
    bool ok = writable ? dma.Write(b.addr + off, buf, k) : dma.Read(b.addr + off, buf, k);
    if (!ok) return false;
    buf += k;
    n -= k;
    off = 0;
    if (n == 0) return true;
  }
  return n == 0;
}
}  // namespace

VirtioBlk::VirtioBlk(std::unique_ptr<RawImage> image, std::mutex& device_lock, std::string serial,
                     ErrorReporter report_error)
    : image_(std::move(image)), device_lock_(device_lock), serial_(std::move(serial)),
      report_error_(std::move(report_error)) {
  serial_.resize(std::min(serial_.size(), kIdBytes));
  worker_ = std::thread([this] { WorkerLoop(); });
}

VirtioBlk::~VirtioBlk() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  kick_cv_.notify_all();
  worker_.join();
}

uint64_t VirtioBlk::features() const {
  uint64_t f = kFeatureSegMax | kFeatureBlkSize | kFeatureFlush;
  return image_->read_only() ? f | kFeatureRo : f | kFeatureDiscard | kFeatureWriteZeroes;
}

// struct virtio_blk_config (5.2.4).
uint64_t VirtioBlk::ReadConfig(uint64_t offset, unsigned size) {
  uint8_t c[kConfigSize] = {};
  auto put = [&](unsigned at, unsigned n, uint64_t v) {
    for (unsigned i = 0; i < n; ++i) c[at + i] = static_cast<uint8_t>(v >> (8 * i));
  };
  put(0, 8, image_->sectors());                // capacity
  put(12, 4, kSegMax);                         // seg_max
  put(20, 4, RawImage::kSectorSize);           // blk_size
  put(34, 2, 1);                               // num_queues
  put(36, 4, kMaxDiscardSectors);              // max_discard_sectors
  put(40, 4, 1);                               // max_discard_seg
  put(44, 4, 1);                               // discard_sector_alignment
  put(48, 4, kMaxDiscardSectors);              // max_write_zeroes_sectors
  put(52, 4, 1);                               // max_write_zeroes_seg
  return Le(c + offset, size);
}

void VirtioBlk::QueueNotify(unsigned) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    kicked_ = true;
  }
  kick_cv_.notify_one();
}

void VirtioBlk::Reset() { generation_.fetch_add(1, std::memory_order_acq_rel); }

void VirtioBlk::WaitIdle() {
  std::unique_lock<std::mutex> lock(mutex_);
  idle_cv_.wait(lock, [this] { return !kicked_ && !busy_; });
}

void VirtioBlk::WorkerLoop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      kick_cv_.wait(lock, [this] { return kicked_ || stop_; });
      if (stop_) return;
      kicked_ = false;
      busy_ = true;
    }
    Drain();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      busy_ = false;
    }
    idle_cv_.notify_all();
  }
}

// Pops what the driver has made available, serves it without the device
// lock, and completes it with the lock; until the ring is empty.
void VirtioBlk::Drain() {
  VirtioPci& t = *transport();
  for (;;) {
    std::vector<VirtChain> batch;
    uint64_t generation;
    {
      std::lock_guard<std::mutex> lock(device_lock_);
      generation = generation_.load(std::memory_order_acquire);
      if (!t.accepting()) return;
      VirtChain chain;
      std::string error;
      while (batch.size() < kQueueSize && t.queue(0).Pop(t.dma(), chain, error)) batch.push_back(std::move(chain));
      if (!error.empty()) t.FailDevice(error);
    }
    if (batch.empty()) return;
    std::vector<Outcome> outcomes(batch.size());
    std::string error;
    size_t served = 0;
    for (; served < batch.size(); ++served) {
      if (!Serve(batch[served], outcomes[served], error)) break;
    }
    if (std::string report = image_->TakeErrorReport(); !report.empty() && report_error_) report_error_(report);
    std::lock_guard<std::mutex> lock(device_lock_);
    if (generation != generation_.load(std::memory_order_acquire)) return;  // reset meanwhile: the driver forgot them
    bool pushed = false;
    for (size_t i = 0; i < served; ++i) {
      // Used length: every byte written to device-writable buffers, the status included.
      if (!t.queue(0).Push(t.dma(), batch[i].head, outcomes[i].data_written + 1, error)) break;
      pushed = true;
    }
    if (!error.empty()) t.FailDevice(error);
    if (pushed) t.NotifyUsed(0);
    if (!error.empty()) return;
  }
}

bool VirtioBlk::Serve(const VirtChain& chain, Outcome& out, std::string& error) {
  DmaMemory& dma = transport()->dma();
  uint8_t header[kHeaderSize];
  if (chain.readable_bytes < kHeaderSize || chain.writable_bytes < 1) {
    error = "block request without a 16-byte header and a status byte";
    return false;
  }
  if (!CopyChain(dma, chain, false, 0, header, kHeaderSize)) {
    error = "block request header is not in RAM";
    return false;
  }
  uint32_t type = static_cast<uint32_t>(Le(header, 4));
  uint64_t sector = Le(header + 8, 8);
  uint64_t data_in = chain.writable_bytes - 1;  // device-writable bytes before the status
  out = Outcome{};
  switch (type) {
    case kTypeIn:
    case kTypeOut:
    case kTypeDiscard:
    case kTypeWriteZeroes:
      out = ServeRange(type, sector, chain, kHeaderSize);
      break;
    case kTypeFlush:
      out.status = image_->Flush() ? kStatusOk : kStatusIoErr;
      break;
    case kTypeGetId: {
      uint8_t id[kIdBytes] = {};
      std::memcpy(id, serial_.data(), serial_.size());
      uint64_t n = std::min<uint64_t>(data_in, kIdBytes);
      if (!CopyChain(dma, chain, true, 0, id, n)) {
        out.status = kStatusIoErr;
        break;
      }
      out.data_written = static_cast<uint32_t>(n);
      break;
    }
    default:
      out.status = kStatusUnsupported;
      break;
  }
  if (!CopyChain(dma, chain, true, data_in, &out.status, 1)) {
    error = "block request status byte is not writable RAM";
    return false;
  }
  return true;
}

VirtioBlk::Outcome VirtioBlk::ServeRange(uint32_t type, uint64_t sector, const VirtChain& chain, uint64_t data_offset) {
  DmaMemory& dma = transport()->dma();
  Outcome out;
  out.status = kStatusIoErr;
  const uint64_t capacity = image_->sectors();
  const uint64_t sector_size = RawImage::kSectorSize;
  auto in_range = [&](uint64_t first, uint64_t count) { return first <= capacity && count <= capacity - first; };
  if (type == kTypeDiscard || type == kTypeWriteZeroes) {
    if (image_->read_only()) return out;
    uint64_t bytes = chain.readable_bytes - data_offset;
    if (bytes != kSegmentSize) {  // max_discard_seg/max_write_zeroes_seg is 1
      out.status = kStatusUnsupported;
      return out;
    }
    uint8_t seg[kSegmentSize];
    if (!CopyChain(dma, chain, false, data_offset, seg, sizeof seg)) return out;
    uint64_t first = Le(seg, 8);
    uint64_t count = Le(seg + 8, 4);
    uint32_t flags = static_cast<uint32_t>(Le(seg + 12, 4));
    if ((flags & ~1u) || count > kMaxDiscardSectors || (type == kTypeDiscard && (flags & 1))) {
      out.status = kStatusUnsupported;  // only the write-zeroes "unmap" flag is defined
      return out;
    }
    if (!in_range(first, count)) return out;
    bool ok = type == kTypeDiscard ? image_->Discard(first * sector_size, count * sector_size)
                                   : image_->WriteZeroes(first * sector_size, count * sector_size);
    out.status = ok ? kStatusOk : kStatusIoErr;
    return out;
  }
  bool write = type == kTypeOut;
  uint64_t bytes = write ? chain.readable_bytes - data_offset : chain.writable_bytes - 1;
  if (bytes % sector_size || bytes > kMaxTransfer || !in_range(sector, bytes / sector_size)) return out;
  if (write && image_->read_only()) return out;
  std::vector<uint8_t> buf(bytes);
  if (write) {
    if (!CopyChain(dma, chain, false, data_offset, buf.data(), bytes)) return out;
    if (!image_->Write(sector * sector_size, buf.data(), bytes)) return out;
  } else {
    if (!image_->Read(sector * sector_size, buf.data(), bytes)) return out;
    if (!CopyChain(dma, chain, true, 0, buf.data(), bytes)) return out;
    out.data_written = static_cast<uint32_t>(bytes);
  }
  out.status = kStatusOk;
  return out;
}

}  // namespace tandem::hw::virtio
