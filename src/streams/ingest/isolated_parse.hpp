// File: streams/ingest/isolated_parse.hpp
//
// Parsing in a child process. The parsers run C libraries (poppler, libzip, gumbo,
// tesseract) over untrusted files; a crash, a hang or a memory blow-up in one of them
// must not take the server and every other job down with it. `parse_file_isolated`
// starts `<executable> parse --json FILE` (the `wattos parse` command) as a fresh
// process (posix_spawn, no fork of the threaded server), reads the parsed document as
// JSON from its stdout, and stops it at the deadline. In the child, the address space
// is capped (RLIMIT_AS; not under AddressSanitizer, which reserves terabytes) and CPU
// time is capped (RLIMIT_CPU).
//
// Plain text (txt, md, csv, json in clean UTF-8, up to `in_process_text_bytes`) is
// parsed in process: its parsers are the project's own fuzzed code with no C library
// behind them, and starting a process costs far more than parsing a page of text
// (about 80 ms for a release binary, 650 ms under AddressSanitizer, against well
// under a millisecond), which made a folder of small text files crawl.
//
// Errors: the child's own parse error comes back as it was (code and message); a crash
// is invalid_argument ("the parser crashed on this file (signal 11)"), the deadline is
// invalid_argument too (the file, not the system, is the problem: retrying the same
// file would hang again); a child that cannot be started is unavailable.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "streams/ingest/parsed_document.hpp"

namespace wattos::streams::ingest {

struct isolation_settings {
  std::filesystem::path executable;  // the wattos binary; empty: parse in process
  std::chrono::seconds timeout{300};
  std::uint64_t memory_bytes = 4ull << 30;           // RLIMIT_AS of the child
  std::uint64_t in_process_text_bytes = 8ull << 20;  // plain text up to this size: no child; 0: always a child
};

core::result<parsed_document> parse_file_isolated(const std::filesystem::path& file, const parse_limits& limits,
                                                  const isolation_settings& isolation);

// The child's side: parses the file and writes the document (or the error) as one JSON
// object to stdout. Exit code 0 in both cases.
int run_parse_child(const std::filesystem::path& file, const parse_limits& limits, std::uint64_t memory_bytes,
                    int cpu_seconds);

// The JSON the child writes, and its reader (bounded: it is the child's output, but the
// child parsed hostile input).
std::string document_to_json(const parsed_document& doc);
core::result<parsed_document> document_from_json(std::string_view json);

}  // namespace wattos::streams::ingest
