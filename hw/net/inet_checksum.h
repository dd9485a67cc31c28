// The Internet checksum (RFC 1071) over Ethernet frames carrying IPv4 (RFC
// 791) or IPv6 (RFC 8200) with TCP or UDP: what a NIC with receive and
// transmit checksum offload computes, so that virtio-net can spare the guest
// a pass over every byte (VIRTIO 1.2 5.1.6.2 NEEDS_CSUM, 5.1.6.4 DATA_VALID).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tandem::hw::net {

// The one's-complement sum of `len` bytes as big-endian 16-bit words (an odd
// last byte padded with zero), added to `sum`; not folded.
uint64_t ChecksumAdd(const uint8_t* data, size_t len, uint64_t sum = 0);
// Folds a sum to 16 bits and complements it: the value a checksum field holds.
uint16_t ChecksumFinish(uint64_t sum);

// Whether `frame` (Ethernet II, no FCS) is an unfragmented IPv4 or IPv6 packet
// whose TCP or UDP checksum is present and correct, with a correct IPv4
// header checksum: the case where a NIC reports "checksum verified". False for
// anything else (other protocols, fragments, IPv6 extension headers, bad or
// truncated packets), which the guest then checks itself.
bool TransportChecksumValid(const uint8_t* frame, size_t len);

// Fills in a partial checksum as the driver asked (VIRTIO_NET_HDR_F_NEEDS_CSUM):
// the one's-complement sum from `start` to the end, stored at start + offset
// (the field holds the pseudo-header sum the driver put there). False when
// the range does not fit in the frame.
bool CompleteChecksum(uint8_t* frame, size_t len, size_t start, size_t offset);

}  // namespace tandem::hw::net
