// The capture -> inference hand-over and batcher: files wait, live sources keep the newest and count
// drops; a batch takes one frame per camera and waits only for the cameras that can deliver.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "facefleet/frame_mux.hpp"

using namespace facefleet;
using namespace std::chrono_literals;

namespace {
using Mux = FrameMux<int>;
using Batch = std::vector<std::pair<std::size_t, int>>;
constexpr auto kLong = 10s;  // a timeout a correct test never reaches

std::vector<Mux::Lane> lanes(std::size_t n, bool dropOldest = false, std::size_t capacity = 2) {
  return std::vector<Mux::Lane>(n, Mux::Lane{capacity, dropOldest});
}
}  // namespace

TEST(FrameMux, DropOldestKeepsNewestAndCountsEvictions) {
  Mux q(lanes(1, true, 1));
  std::vector<int> evicted;
  EXPECT_TRUE(q.push(0, 1, &evicted));
  EXPECT_TRUE(q.push(0, 2, &evicted));
  EXPECT_TRUE(q.push(0, 3, &evicted));
  EXPECT_EQ(evicted, (std::vector<int>{1, 2}));
  EXPECT_EQ(q.takeDropped(0), 2);
  EXPECT_EQ(q.takeDropped(0), 0);  // counted once
  Batch b;
  ASSERT_EQ(q.popBatch(b, 4, kLong, 0ms), Mux::Pop::Batch);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].second, 3);
  EXPECT_EQ(q.popBatch(b, 4, kLong, 1ms), Mux::Pop::Timeout);
}

TEST(FrameMux, WaitPolicyLosesNothingInOrder) {
  Mux q(lanes(1));
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) q.push(0, int(i));
    q.finish(0);
  });
  std::vector<int> got;
  Batch b;
  while (q.popBatch(b, 4, kLong, kLong) == Mux::Pop::Batch) {
    EXPECT_EQ(b.size(), 1u);  // one frame per camera per batch
    for (auto& x : b) got.push_back(x.second);
  }
  producer.join();
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[i], i);
  EXPECT_EQ(q.takeDropped(0), 0);
}

TEST(FrameMux, FullBatchGoesAtOnceWithoutWaitingForTheTimeout) {
  Mux q(lanes(3));
  for (int lane = 0; lane < 3; ++lane) q.push(lane, 10 + lane);
  Batch b;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(q.popBatch(b, 8, kLong, kLong), Mux::Pop::Batch);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);  // not the 10 s batch timeout
  ASSERT_EQ(b.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(b[i], (std::pair<std::size_t, int>{i, 10 + static_cast<int>(i)}));
}

TEST(FrameMux, CamerasThatCannotDeliverAreNotWaitedFor) {
  Mux q(lanes(3));
  q.setExpected(1, false);  // reconnecting
  q.finish(2);              // ended
  q.push(0, 7);
  Batch b;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(q.popBatch(b, 8, kLong, kLong), Mux::Pop::Batch);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].second, 7);
}

TEST(FrameMux, ASlowCameraHoldsABatchBackOnlyForTheTimeout) {
  Mux q(lanes(2));
  q.push(0, 1);
  Batch b;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(q.popBatch(b, 8, 50ms, kLong), Mux::Pop::Batch);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);  // it did wait for camera 1...
  ASSERT_EQ(b.size(), 1u);                                   // ...then went without it
  // The timeout counts from the oldest frame's arrival: one that already waited goes at once.
  q.push(0, 2);
  std::this_thread::sleep_for(60ms);  // lets the frame age; not synchronisation
  const auto t1 = std::chrono::steady_clock::now();
  ASSERT_EQ(q.popBatch(b, 8, 50ms, kLong), Mux::Pop::Batch);
  EXPECT_LT(std::chrono::steady_clock::now() - t1, 5s);
  // A frame from the slow camera that arrives in time joins the batch.
  q.push(0, 3);
  std::thread late([&] { q.push(1, 4); });
  ASSERT_EQ(q.popBatch(b, 8, kLong, kLong), Mux::Pop::Batch);
  late.join();
  EXPECT_EQ(b.size(), 2u);
}

TEST(FrameMux, MaxBatchServesCamerasInTurn) {
  Mux q(lanes(3));
  for (int round = 0; round < 2; ++round)
    for (int lane = 0; lane < 3; ++lane) q.push(lane, int(lane));
  Batch b;
  std::vector<std::size_t> order;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(q.popBatch(b, 2, kLong, kLong), Mux::Pop::Batch);
    ASSERT_EQ(b.size(), 2u);
    for (auto& x : b) order.push_back(x.first);
  }
  EXPECT_EQ(order, (std::vector<std::size_t>{0, 1, 2, 0, 1, 2}));
}

TEST(FrameMux, FinishedLanesDrainThenClosed) {
  Mux q(lanes(2));
  q.push(0, 1);
  q.push(1, 2);
  q.finish(0);
  q.finish(1);
  EXPECT_FALSE(q.push(0, 3));  // a finished lane takes no more
  Batch b;
  ASSERT_EQ(q.popBatch(b, 8, kLong, kLong), Mux::Pop::Batch);
  EXPECT_EQ(b.size(), 2u);
  EXPECT_EQ(q.popBatch(b, 8, kLong, kLong), Mux::Pop::Closed);
}

TEST(FrameMux, CloseReleasesABlockedProducer) {
  Mux q(lanes(1, false, 1));
  q.push(0, 1);
  std::atomic<int> result{-1};
  std::thread producer([&] { result = q.push(0, 2) ? 1 : 0; });  // blocks: the lane is full
  q.close();
  producer.join();
  EXPECT_EQ(result.load(), 0);
  Batch b;
  EXPECT_EQ(q.popBatch(b, 8, kLong, kLong), Mux::Pop::Closed);
}

// Inference lanes: a camera whose frame a consumer holds is neither served nor waited for until it
// is released, and the mux does not close while a held camera still has frames queued.
TEST(FrameMux, AHeldCameraIsNotServedAgainUntilReleased) {
  Mux q(lanes(2), /*holdTaken=*/true);
  q.push(0, 10);
  q.push(0, 11);
  q.push(1, 20);
  Batch a, b;
  ASSERT_EQ(q.popBatch(a, 1, kLong, kLong), Mux::Pop::Batch);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0], (std::pair<std::size_t, int>{0, 10}));
  // Camera 0 is held: the next consumer gets camera 1 at once (no batch timeout for camera 0)...
  ASSERT_EQ(q.popBatch(b, 4, kLong, kLong), Mux::Pop::Batch);
  EXPECT_EQ(b, (Batch{{1, 20}}));
  // ...and then nothing, although camera 0 has a frame queued.
  q.finish(0);
  q.finish(1);
  EXPECT_EQ(q.popBatch(b, 4, kLong, 5ms), Mux::Pop::Timeout) << "camera 0's frame 11 while 10 is held";
  q.release(1);
  q.release(0);
  ASSERT_EQ(q.popBatch(b, 4, kLong, kLong), Mux::Pop::Batch);
  EXPECT_EQ(b, (Batch{{0, 11}}));
  q.release(0);
  EXPECT_EQ(q.popBatch(b, 4, kLong, kLong), Mux::Pop::Closed);
}

// Two consumers on their own threads, two cameras of 200 frames each: every frame is handled once,
// and each camera's frames are handled (released) in the order they were pushed.
TEST(FrameMux, TwoConsumersKeepEachCamerasFramesInOrder) {
  constexpr int kCameras = 2, kFrames = 200;
  Mux q(lanes(kCameras), /*holdTaken=*/true);
  std::vector<std::thread> producers;
  for (int cam = 0; cam < kCameras; ++cam) {
    producers.emplace_back([&q, cam] {
      for (int i = 0; i < kFrames; ++i) q.push(cam, int(i));
      q.finish(cam);
    });
  }
  std::mutex m;
  std::vector<std::vector<int>> handled(kCameras);
  auto consume = [&] {
    Batch b;
    while (q.popBatch(b, 1, kLong, kLong) != Mux::Pop::Closed) {
      for (auto& x : b) {
        // Even frames take longer: a consumer that could take the same camera's next frame meanwhile
        // would hand it over first.
        for (int k = 0; k < (x.second % 2 ? 0 : 200); ++k) std::this_thread::yield();
        {
          std::lock_guard<std::mutex> lock(m);
          handled[x.first].push_back(x.second);
        }
        q.release(x.first);
      }
    }
  };
  std::thread second(consume);
  consume();
  second.join();
  for (auto& p : producers) p.join();
  for (int cam = 0; cam < kCameras; ++cam) {
    ASSERT_EQ(handled[cam].size(), static_cast<std::size_t>(kFrames)) << "camera " << cam;
    for (int i = 0; i < kFrames; ++i) ASSERT_EQ(handled[cam][i], i) << "camera " << cam;
  }
}
