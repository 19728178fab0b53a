#include "lookout/core/channel.h"

#include <algorithm>
#include <random>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

namespace lookout {
namespace {

using namespace std::chrono_literals;

TEST(Channel, RejectsZeroCapacity) { EXPECT_THROW(Channel<int>(0), std::invalid_argument); }

TEST(Channel, TryPushFailsWhenFullAndLeavesItemIntact) {
  Channel<std::string> channel(2);
  std::string a = "a", b = "b", c = "c";
  EXPECT_TRUE(channel.try_push(std::move(a)));
  EXPECT_TRUE(channel.try_push(std::move(b)));
  EXPECT_FALSE(channel.try_push(std::move(c)));
  EXPECT_EQ(c, "c");
  EXPECT_EQ(channel.size(), 2u);
}

TEST(Channel, PushWithDeadlineTimesOutWhenFull) {
  Channel<int> channel(1);
  EXPECT_TRUE(channel.push(1));
  const auto begin = Channel<int>::Clock::now();
  EXPECT_FALSE(channel.push(2, begin + 30ms));
  EXPECT_GE(Channel<int>::Clock::now() - begin, 30ms);
}

TEST(Channel, PopTimesOutWhenEmpty) {
  Channel<int> channel(1);
  EXPECT_FALSE(channel.pop(20ms).has_value());
  EXPECT_FALSE(channel.closed());
}

TEST(Channel, IsFifoForOneProducer) {
  Channel<int> channel(4);
  std::thread producer([&] {
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(channel.push(int{i}));
  });
  for (int i = 0; i < 1000; ++i) {
    auto item = channel.pop(5s);
    ASSERT_TRUE(item.has_value());
    ASSERT_EQ(*item, i);
  }
  producer.join();
}

TEST(Channel, CloseKeepsQueuedItemsAndRefusesNewOnes) {
  Channel<int> channel(4);
  ASSERT_TRUE(channel.push(7));
  channel.close();
  EXPECT_FALSE(channel.push(8));
  auto item = channel.pop(100ms);
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(*item, 7);
  EXPECT_FALSE(channel.pop(100ms).has_value());
  EXPECT_TRUE(channel.closed());
}

TEST(Channel, CloseWakesBlockedPusherAndPopper) {
  Channel<int> full(1);
  Channel<int> empty(1);
  ASSERT_TRUE(full.push(1));
  std::thread pusher([&] { EXPECT_FALSE(full.push(2)); });
  std::thread popper([&] { EXPECT_FALSE(empty.pop(std::chrono::milliseconds(60'000)).has_value()); });
  std::this_thread::sleep_for(20ms);
  full.close();
  empty.close();
  pusher.join();  // a hang here fails through the ctest timeout
  popper.join();
}

// Producers x consumers x capacity x items: every item arrives exactly once, each producer's items
// in its own order, and the bound is never exceeded.
class ChannelMatrix : public ::testing::TestWithParam<std::tuple<int, int, int, int>> {};

TEST_P(ChannelMatrix, DeliversEveryItemOnceInProducerOrderWithinBound) {
  const auto [producers, consumers, capacity, per_producer] = GetParam();
  Channel<std::pair<int, int>> channel(static_cast<std::size_t>(capacity));
  std::atomic<int> producers_left{producers};
  std::vector<std::vector<std::pair<int, int>>> received(static_cast<std::size_t>(consumers));
  std::atomic<std::size_t> max_seen{0};

  std::vector<std::thread> threads;
  for (int c = 0; c < consumers; ++c) {
    threads.emplace_back([&, c] {
      std::mt19937 random(static_cast<unsigned>(c + 100));
      for (;;) {
        max_seen.store(std::max(max_seen.load(), channel.size()));
        auto item = channel.pop(10ms);
        if (!item) {
          if (producers_left.load() == 0 && channel.size() == 0) return;
          continue;
        }
        received[static_cast<std::size_t>(c)].push_back(*item);
        if (random() % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(random() % 200));
      }
    });
  }
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      std::mt19937 random(static_cast<unsigned>(p));
      for (int i = 0; i < per_producer; ++i) {
        ASSERT_TRUE(channel.push({p, i}));
        if (random() % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(random() % 200));
      }
      --producers_left;
    });
  }
  for (auto& thread : threads) thread.join();

  std::set<std::pair<int, int>> all;
  for (const auto& items : received) {
    std::vector<int> last(static_cast<std::size_t>(producers), -1);
    for (const auto& [p, i] : items) {
      EXPECT_GT(i, last[static_cast<std::size_t>(p)]) << "producer " << p << " reordered for one consumer";
      last[static_cast<std::size_t>(p)] = i;
      EXPECT_TRUE(all.insert({p, i}).second) << "duplicate " << p << "/" << i;
    }
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(producers * per_producer));
  EXPECT_LE(max_seen.load(), static_cast<std::size_t>(capacity));
}

INSTANTIATE_TEST_SUITE_P(WorkersCapacityItems, ChannelMatrix,
                         ::testing::Combine(::testing::Values(1, 3), ::testing::Values(1, 4),
                                            ::testing::Values(1, 16), ::testing::Values(500)));

}  // namespace
}  // namespace lookout
