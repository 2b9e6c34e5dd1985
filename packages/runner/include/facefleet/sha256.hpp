// SHA-256 (FIPS 180-4), for the hello line's modelSha256: the agent compares it with the
// engine it meant to deploy. Small enough to own instead of linking libcrypto.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace facefleet {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t len);
  std::array<std::uint8_t, 32> finish();  // the object must not be updated afterwards

 private:
  void block(const std::uint8_t* p);
  std::uint32_t h_[8];
  std::uint8_t buf_[64];
  std::size_t bufLen_ = 0;
  std::uint64_t total_ = 0;
};

std::string toHex(const std::array<std::uint8_t, 32>& digest);
std::string sha256Hex(std::string_view data);
// Throws std::runtime_error when the file cannot be read.
std::string sha256File(const std::string& path);

}  // namespace facefleet
