// File: core/utf8.hpp
//
// UTF-8 validation. Text from clients, files and model providers may be broken
// UTF-8; JSON output and logs must not be. Invalid sequences (overlong forms,
// surrogates, code points above U+10FFFF, truncated sequences) become U+FFFD.
//
// Example:
//   std::string safe = core::to_valid_utf8(untrusted_bytes);
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace wattos::core {

// Length of the valid UTF-8 sequence at the start of `text`, or 0 if it is invalid.
std::size_t utf8_sequence_length(std::string_view text) noexcept;

bool is_valid_utf8(std::string_view text) noexcept;

// Copies `text`, replacing each invalid byte sequence with U+FFFD.
std::string to_valid_utf8(std::string_view text);

// The longest prefix of `text` of at most `max_bytes` bytes that does not end inside a
// UTF-8 sequence.
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) noexcept;

}  // namespace wattos::core
