// SHA-256 against FIPS 180-2 / NIST known-answer vectors.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "facefleet/sha256.hpp"

using namespace facefleet;

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PaddingBoundariesAndChunkedUpdates) {
  // 55, 56 and 64 bytes straddle the padding boundary; feeding byte by byte must match one update.
  EXPECT_EQ(sha256Hex(std::string(55, 'a')), "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  EXPECT_EQ(sha256Hex(std::string(56, 'a')), "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  EXPECT_EQ(sha256Hex(std::string(64, 'a')), "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
  const std::string msg(200, 'q');
  Sha256 h;
  for (char c : msg) h.update(&c, 1);
  EXPECT_EQ(toHex(h.finish()), sha256Hex(msg));
}

TEST(Sha256, FileMatchesStringAndMissingFileThrows) {
  const std::string path = ::testing::TempDir() + "facefleet_sha_test.bin";
  {
    std::ofstream f(path, std::ios::binary);
    f << "abc";
  }
  EXPECT_EQ(sha256File(path), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::remove(path.c_str());
  EXPECT_THROW(sha256File(path), std::runtime_error);
}
