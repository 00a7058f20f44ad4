#include "net/origin_form.hpp"

#include <array>

namespace wattos::net {
namespace {

constexpr std::array<bool, 256> plain_path_chars = [] {
  std::array<bool, 256> table{};
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (char c : std::string_view("-._~!$&'()*+,;=:@/")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

}  // namespace

bool is_plain_origin_path(std::string_view target) noexcept {
  if (target.empty() || target.front() != '/') return false;
  for (char c : target) {
    if (!plain_path_chars[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

}  // namespace wattos::net
