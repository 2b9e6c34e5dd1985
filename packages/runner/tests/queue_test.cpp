// The capture -> inference hand-over: files wait, live sources keep the newest and count drops.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "facefleet/bounded_queue.hpp"

using namespace facefleet;
using namespace std::chrono_literals;

TEST(BoundedQueue, DropOldestKeepsNewestAndCountsEvictions) {
  BoundedQueue<int> q(1, true);
  std::vector<int> evicted;
  EXPECT_TRUE(q.push(1, &evicted));
  EXPECT_TRUE(q.push(2, &evicted));
  EXPECT_TRUE(q.push(3, &evicted));
  EXPECT_EQ(evicted, (std::vector<int>{1, 2}));
  EXPECT_EQ(q.takeDropped(), 2);
  EXPECT_EQ(q.takeDropped(), 0);  // counted once
  int v = 0;
  ASSERT_EQ(q.pop(v, 0ms), BoundedQueue<int>::Pop::Item);
  EXPECT_EQ(v, 3);
  EXPECT_EQ(q.pop(v, 1ms), BoundedQueue<int>::Pop::Timeout);
}

TEST(BoundedQueue, WaitPolicyLosesNothingAndBlocksWhenFull) {
  BoundedQueue<int> q(2, false);
  std::atomic<int> pushed{0};
  std::thread producer([&] {
    for (int i = 0; i < 100; ++i) {
      q.push(int(i));
      pushed = i + 1;
    }
    q.close();
  });
  // The producer cannot run ahead by more than the capacity while nobody consumes.
  while (pushed.load() < 2) std::this_thread::yield();
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(pushed.load(), 2);
  std::vector<int> got;
  int v;
  while (q.pop(v, 1000ms) == BoundedQueue<int>::Pop::Item) got.push_back(v);
  producer.join();
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got[i], i);
  EXPECT_EQ(q.takeDropped(), 0);
}

TEST(BoundedQueue, CloseDrainsThenReportsClosedAndRejectsPushes) {
  BoundedQueue<int> q(2, false);
  q.push(7);
  q.close();
  EXPECT_FALSE(q.push(8));
  int v = 0;
  EXPECT_EQ(q.pop(v, 0ms), BoundedQueue<int>::Pop::Item);
  EXPECT_EQ(v, 7);
  EXPECT_EQ(q.pop(v, 0ms), BoundedQueue<int>::Pop::Closed);
}
