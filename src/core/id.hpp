// File: core/id.hpp
//
// Identifiers. Every stored object gets a UUIDv7 (RFC 9562): 48 bits of Unix time in
// milliseconds, then randomness, so ids sort by creation time and index well in
// B-trees. Within one millisecond ids of one process still increase (a 12-bit
// counter in rand_a, re-seeded randomly each millisecond).
//
// Example:
//   std::string id = core::new_uuid_v7();   // "019a7f3e-5c1b-7a3c-9f12-4b6c8d2e1a00"
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wattos::core {

using uuid_bytes = std::array<std::uint8_t, 16>;

// A new UUIDv7 from the current time. Thread safe.
uuid_bytes new_uuid_v7_bytes();
std::string new_uuid_v7();

// A UUIDv7 for a given time and random bits; deterministic, for tests.
uuid_bytes make_uuid_v7(std::uint64_t unix_ms, std::uint16_t rand_a, std::uint64_t rand_b) noexcept;

// Canonical 8-4-4-4-12 lower-case hex form.
std::string format_uuid(const uuid_bytes& bytes);

// Parses the canonical form (either case); nullopt for anything else.
std::optional<uuid_bytes> parse_uuid(std::string_view text) noexcept;

// The millisecond timestamp of a UUIDv7.
std::uint64_t uuid_v7_unix_ms(const uuid_bytes& bytes) noexcept;

// A random hex string of 2*n_bytes characters (request ids, trace ids); not for secrets.
std::string random_hex(std::size_t n_bytes);

}  // namespace wattos::core
