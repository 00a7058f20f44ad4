#include "core/id.hpp"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace wattos::core {
namespace {

TEST(id, v7_layout_matches_rfc_9562) {
  // The RFC 9562 appendix A.6 example: unix_ms 0x017F22E279B0, rand_a 0xCC3, rand_b 0x18C4DC0C0C07398F.
  auto bytes = make_uuid_v7(0x017F22E279B0ull, 0xCC3, 0x18C4DC0C0C07398Full);
  EXPECT_EQ(format_uuid(bytes), "017f22e2-79b0-7cc3-98c4-dc0c0c07398f");
  EXPECT_EQ(uuid_v7_unix_ms(bytes), 0x017F22E279B0ull);
}

TEST(id, new_ids_have_version_and_variant) {
  auto bytes = new_uuid_v7_bytes();
  EXPECT_EQ(bytes[6] >> 4, 7);
  EXPECT_EQ(bytes[8] >> 6, 2);
}

TEST(id, ids_increase_and_are_unique_across_threads) {
  constexpr int per_thread = 20000;
  std::vector<std::vector<std::string>> ids(4);
  std::vector<std::thread> threads;
  threads.reserve(ids.size());
  for (auto& list : ids) {
    threads.emplace_back([&list] {
      for (int i = 0; i < per_thread; ++i) list.push_back(new_uuid_v7());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& list : ids) {
    for (std::size_t i = 1; i < list.size(); ++i) ASSERT_LT(list[i - 1], list[i]);
    all.insert(list.begin(), list.end());
  }
  EXPECT_EQ(all.size(), 4u * per_thread);
}

TEST(id, parse_round_trips_and_rejects_garbage) {
  auto id = new_uuid_v7();
  auto parsed = parse_uuid(id);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(format_uuid(*parsed), id);
  EXPECT_TRUE(parse_uuid("017F22E2-79B0-7CC3-98C4-DC0C0C07398F").has_value());
  for (const char* bad : {"", "017f22e2-79b0-7cc3-98c4-dc0c0c07398", "017f22e2x79b0-7cc3-98c4-dc0c0c07398f",
                          "g17f22e2-79b0-7cc3-98c4-dc0c0c07398f", "017f22e2-79b0-7cc3-98c4-dc0c0c07398f0"}) {
    EXPECT_FALSE(parse_uuid(bad).has_value()) << bad;
  }
}

TEST(id, random_hex_has_requested_length) {
  EXPECT_EQ(random_hex(16).size(), 32u);
  EXPECT_NE(random_hex(16), random_hex(16));
}

}  // namespace
}  // namespace wattos::core
