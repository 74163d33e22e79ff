#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <cstdint>
#include <random>
#include <tendril/core/biased_seat.hpp>
#include <thread>
#include <vector>

#include "support/watchdog.hpp"

using namespace std::chrono_literals;
using tendril::detail::asymmetric_fence_available;
using tendril::detail::BiasedSeat;

namespace {

// Takes and lets go of `seat` `times` times from this thread.
void take_repeatedly(BiasedSeat& seat, int times) {
  for (int i = 0; i < times; ++i) {
    ASSERT_TRUE(seat.try_acquire()) << "take " << i << " of a seat nobody else wants";
    seat.release();
  }
}

}  // namespace

TEST(BiasedSeat, OneThreadTakingItOverAndOverEarnsTheBias) {
  BiasedSeat seat;
  take_repeatedly(seat, 100);
  EXPECT_FALSE(seat.biased()) << "100 takes are under the first threshold (256)";
  take_repeatedly(seat, 200);
  // Without the asymmetric fence (ThreadSanitizer, old kernels) a seat is never biased.
  EXPECT_EQ(seat.biased(), asymmetric_fence_available());
}

TEST(BiasedSeat, AHeldSeatIsRefusedToOthersAndTheirRevocationEndsAtItsRelease) {
  tendril::testing::Watchdog watchdog(10s, "revocation of a held seat");
  BiasedSeat seat;
  take_repeatedly(seat, 300);
  ASSERT_TRUE(seat.try_acquire());
  std::thread other([&] {
    for (int i = 0; i < 50; ++i) EXPECT_FALSE(seat.try_acquire()) << "try " << i;
  });
  other.join();
  EXPECT_FALSE(seat.looks_free());
  seat.release();  // the owner's release ends the revocation the other thread began
  EXPECT_FALSE(seat.biased());
  EXPECT_TRUE(seat.looks_free());
  std::thread taker([&] {
    EXPECT_TRUE(seat.try_acquire());
    seat.release();
  });
  taker.join();
  EXPECT_TRUE(seat.try_acquire()) << "the former owner takes it by exchange now";
  seat.release();
}

TEST(BiasedSeat, AnIdleOwnersBiasIsRevokedByTheFirstOtherTaker) {
  BiasedSeat seat;
  take_repeatedly(seat, 300);
  std::thread other([&] {
    EXPECT_TRUE(seat.try_acquire()) << "the owner does not hold it: the revoker takes it";
    EXPECT_FALSE(seat.biased());
    seat.release();
  });
  other.join();
  EXPECT_TRUE(seat.try_acquire());
  seat.release();
}

// Seeded: each round biases a fresh seat towards one of three threads, then the three take it
// in bursts of random length at once, the owner on its fast path while the others revoke; a
// seat held by two threads at once shows as an overlap or as a lost increment of a plain counter.
TEST(BiasedSeat, ThreadsTakingTurnsInBurstsNeverHoldItTogether) {
  tendril::testing::Watchdog watchdog(60s, "biased seat bursts");
  // Without the fence (ThreadSanitizer) only the exchange path runs: fewer rounds do.
  constexpr int kThreads = 3;
  const int kRounds = asymmetric_fence_available() ? 1000 : 100;
  std::atomic<bool> inside{false}, overlap{false};
  std::atomic<std::uint64_t> taken{0};
  std::uint64_t counted = 0;  // guarded by the seat alone
  int biased_rounds = 0;
  for (int round = 0; round < kRounds; ++round) {
    BiasedSeat seat;
    std::barrier start(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        if (t == 0) {  // the owner-to-be, alone until the barrier
          take_repeatedly(seat, 260);
          counted += 260;
          taken += 260;
          biased_rounds += seat.biased();
        }
        std::mt19937 random(static_cast<std::uint32_t>(round * kThreads + t));
        start.arrive_and_wait();
        for (int burst = 0; burst < 4; ++burst) {
          const int tries = std::uniform_int_distribution<int>(1, 800)(random);
          for (int i = 0; i < tries; ++i) {
            if (!seat.try_acquire()) continue;
            if (inside.exchange(true)) overlap = true;
            ++counted;
            inside.store(false);
            seat.release();
            ++taken;
          }
          if (random() % 2) std::this_thread::yield();
        }
      });
    }
    for (auto& thread : threads) thread.join();
    ASSERT_FALSE(overlap) << "round " << round;
  }
  EXPECT_EQ(counted, taken.load());
  EXPECT_EQ(biased_rounds, asymmetric_fence_available() ? kRounds : 0);
}
