#include "core/id.hpp"

#include <chrono>
#include <mutex>
#include <random>

namespace wattos::core {
namespace {

// Ids are unique, not secret: a seeded Mersenne Twister per thread is enough and avoids
// a lock on the hot path of request ids.
std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng = [] {
    std::random_device device;
    std::seed_seq seq{device(), device(), device(), device()};
    return std::mt19937_64(seq);
  }();
  return rng;
}

constexpr char hex_digits[] = "0123456789abcdef";

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

uuid_bytes make_uuid_v7(std::uint64_t unix_ms, std::uint16_t rand_a, std::uint64_t rand_b) noexcept {
  uuid_bytes b{};
  for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(unix_ms >> (8 * (5 - i)));
  b[6] = static_cast<std::uint8_t>(0x70 | ((rand_a >> 8) & 0x0f));
  b[7] = static_cast<std::uint8_t>(rand_a);
  b[8] = static_cast<std::uint8_t>(0x80 | ((rand_b >> 56) & 0x3f));
  for (int i = 9; i < 16; ++i) b[i] = static_cast<std::uint8_t>(rand_b >> (8 * (15 - i)));
  return b;
}

uuid_bytes new_uuid_v7_bytes() {
  // Monotonic within the process: the (ms, counter) pair only ever increases. When the
  // 12-bit counter overflows inside one millisecond, time is advanced by one ms, as
  // RFC 9562 section 6.2 allows.
  static std::mutex mutex;
  static std::uint64_t last_ms = 0;
  static std::uint16_t counter = 0;
  std::uint64_t now_ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  std::uint64_t rand_b = thread_rng()();
  std::uint64_t ms;
  std::uint16_t rand_a;
  {
    std::lock_guard lock(mutex);
    if (now_ms > last_ms) {
      last_ms = now_ms;
      counter = static_cast<std::uint16_t>(rand_b >> 53) & 0x1ff;  // random start, headroom left
    } else if (++counter > 0xfff) {
      ++last_ms;
      counter = 0;
    }
    ms = last_ms;
    rand_a = counter;
  }
  return make_uuid_v7(ms, rand_a, rand_b);
}

std::string new_uuid_v7() {
  return format_uuid(new_uuid_v7_bytes());
}

std::string format_uuid(const uuid_bytes& bytes) {
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex_digits[bytes[i] >> 4];
    out += hex_digits[bytes[i] & 0x0f];
  }
  return out;
}

std::optional<uuid_bytes> parse_uuid(std::string_view text) noexcept {
  if (text.size() != 36) return std::nullopt;
  uuid_bytes out{};
  std::size_t byte = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    int hi = hex_value(text[i]);
    int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[byte++] = static_cast<std::uint8_t>((hi << 4) | lo);
    i += 2;
  }
  return out;
}

std::uint64_t uuid_v7_unix_ms(const uuid_bytes& bytes) noexcept {
  std::uint64_t ms = 0;
  for (int i = 0; i < 6; ++i) ms = (ms << 8) | bytes[i];
  return ms;
}

std::string random_hex(std::size_t n_bytes) {
  // Filled in place: appending digit by digit re-checked the capacity twice per byte, and a
  // request id is made for every request.
  std::string out(n_bytes * 2, '\0');
  auto& rng = thread_rng();
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < n_bytes; ++i) {
    if (i % 8 == 0) bits = rng();
    auto b = static_cast<std::uint8_t>(bits >> (8 * (i % 8)));
    out[2 * i] = hex_digits[b >> 4];
    out[2 * i + 1] = hex_digits[b & 0x0f];
  }
  return out;
}

}  // namespace wattos::core
