// Parsing in a child process (streams/ingest/isolated_parse.hpp): the real `wattos
// parse` child gives what the parser in process gives; a child that crashes, hangs or
// answers garbage is an error of the file, never of the server; plain text is parsed
// in process, and everything with a C library behind it is not.
#include "streams/ingest/isolated_parse.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "streams/ingest/parsers.hpp"

namespace ingest = wattos::streams::ingest;
using wattos::core::errc;

namespace {

std::filesystem::path shared_doc(const std::string& relative) {
  return std::filesystem::path(WATTOS_SHARED_DATA) / "docs" / relative;
}

// The files a test process wrote, removed when it ends.
struct written_files {
  std::vector<std::filesystem::path> paths;
  written_files() = default;
  written_files(const written_files&) = delete;
  written_files& operator=(const written_files&) = delete;
  ~written_files() {
    std::error_code ignored;
    for (const auto& p : paths) std::filesystem::remove(p, ignored);
  }
};
written_files written;

// Named per process: ctest runs the tests of this file in parallel processes, and a
// script rewritten while another process starts it fails with "text file busy".
std::filesystem::path write_file(const std::string& name, const std::string& bytes) {
  auto path = std::filesystem::path(testing::TempDir()) / ("isolated-parse-" + std::to_string(::getpid()) + "-" + name);
  written.paths.push_back(path);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// A stand-in for the parser binary: a shell script (it ignores its arguments).
std::filesystem::path fake_parser(const std::string& name, const std::string& body) {
  auto path = write_file(name, "#!/bin/sh\n" + body + "\n");
  ::chmod(path.c_str(), 0755);
  return path;
}

ingest::parse_limits no_ocr() {
  ingest::parse_limits limits;
  limits.ocr = false;
  return limits;
}

ingest::isolation_settings real_child() {
  ingest::isolation_settings isolation;
  isolation.executable = WATTOS_BINARY;
  return isolation;
}

// A child that answers nothing usable: whatever reaches it fails, so a success means
// the file never went to a child.
ingest::isolation_settings broken_child() {
  ingest::isolation_settings isolation;
  isolation.executable = fake_parser("silent-parser", "exit 0");
  return isolation;
}

// The file fails with `code`, and with the message the parser in process gives.
void expect_failure_as_in_process(const std::filesystem::path& file, const ingest::isolation_settings& isolation,
                                  errc code) {
  auto isolated = ingest::parse_file_isolated(file, no_ocr(), isolation);
  auto in_process = ingest::parse_file(file, no_ocr());
  ASSERT_FALSE(in_process.ok()) << file.filename();
  ASSERT_FALSE(isolated.ok()) << file.filename();
  EXPECT_EQ(isolated.err().code(), code) << file.filename();
  EXPECT_EQ(isolated.err().message(), in_process.err().message()) << file.filename();
}

}  // namespace

TEST(IsolatedParse, TheChildGivesWhatTheParserInProcessGives) {
  for (const std::string relative :
       {"de/docspell_letter-de.pdf", "en/markitdown_test.docx", "de/docspell_letter-de.html"}) {
    auto in_process = ingest::parse_file(shared_doc(relative), no_ocr());
    auto isolated = ingest::parse_file_isolated(shared_doc(relative), no_ocr(), real_child());
    ASSERT_TRUE(in_process.ok()) << relative << ": " << in_process.err().message();
    ASSERT_TRUE(isolated.ok()) << relative << ": " << isolated.err().message();
    EXPECT_EQ(ingest::document_to_json(*isolated), ingest::document_to_json(*in_process)) << relative;
    EXPECT_FALSE(isolated->blocks.empty()) << relative;
  }
}

TEST(IsolatedParse, TheChildsParseErrorComesBackAsItWas) {
  expect_failure_as_in_process(shared_doc("special/docspell_encrypted-test123.pdf"), real_child(),
                               errc::failed_precondition);
}

TEST(IsolatedParse, PlainTextIsParsedInProcess) {
  auto limits = no_ocr();
  for (const std::string relative : {"de/docspell_letter-de.txt", "de/docspell_letter-de.md"}) {
    auto doc = ingest::parse_file_isolated(shared_doc(relative), limits, broken_child());
    ASSERT_TRUE(doc.ok()) << relative << ": " << doc.err().message();
    auto expected = ingest::parse_file(shared_doc(relative), limits);
    ASSERT_TRUE(expected.ok());
    EXPECT_EQ(ingest::document_to_json(*doc), ingest::document_to_json(*expected)) << relative;
  }
  auto csv = ingest::parse_file_isolated(write_file("table.csv", "Name;Ort\nAnna;Berlin\nJörg;Köln\n"), limits,
                                         broken_child());
  ASSERT_TRUE(csv.ok()) << csv.err().message();
  EXPECT_EQ(csv->format, "csv");
  auto json = ingest::parse_file_isolated(write_file("data.json", R"({"stadt": "München", "plz": "80331"})"), limits,
                                          broken_child());
  ASSERT_TRUE(json.ok()) << json.err().message();
  EXPECT_EQ(json->format, "json");
  // Its errors are the parser's own, not the child's.
  expect_failure_as_in_process(write_file("broken.json", R"({"stadt": "München", "plz": })"), broken_child(),
                               errc::invalid_argument);
}

TEST(IsolatedParse, WhatAnotherLibraryReadsGoesToTheChild) {
  auto limits = no_ocr();
  // HTML (gumbo) and e-mail (HTML bodies, attachments) are valid UTF-8 text, too.
  for (const auto& path :
       {shared_doc("de/docspell_letter-de.html"), shared_doc("de/docspell_letter-de.pdf"),
        write_file("mail.eml", "From: anna@example.org\nTo: bert@example.org\nSubject: Termin\n\nBis morgen.\n")}) {
    auto doc = ingest::parse_file_isolated(path, limits, broken_child());
    ASSERT_FALSE(doc.ok()) << path.filename();
    EXPECT_EQ(doc.err().message(), "the parser process answered no JSON") << path.filename();
  }
  // Text in another charset, text over the in-process size, and text when the
  // operator asked for a child every time.
  auto latin1 = write_file("latin1.txt",
                           "Gr\xfc\xdf"
                           "e aus K\xf6ln\n");
  EXPECT_FALSE(ingest::parse_file_isolated(latin1, limits, broken_child()).ok());
  auto large = write_file("large.txt", std::string(5000, 'a') + "\n");
  auto small_limit = broken_child();
  small_limit.in_process_text_bytes = 4096;
  EXPECT_FALSE(ingest::parse_file_isolated(large, limits, small_limit).ok());
  auto always = broken_child();
  always.in_process_text_bytes = 0;
  EXPECT_FALSE(ingest::parse_file_isolated(shared_doc("de/docspell_letter-de.txt"), limits, always).ok());
  EXPECT_TRUE(ingest::parse_file_isolated(shared_doc("de/docspell_letter-de.txt"), limits, broken_child()).ok());
}

// A crash, a failure and a hang fail the file (invalid_argument: retrying would do it
// again), and the worker goes on.
TEST(IsolatedParse, AChildThatCrashesFailsOrHangsIsAnErrorOfTheFile) {
  struct child_case {
    const char* name;
    const char* script;
    const char* message;
  };
  for (const child_case& c : {
           child_case{"crashing-parser", "kill -SEGV $$", "the parser crashed on this file (signal 11)"},
           child_case{"failing-parser", "exit 3", "the parser failed on this file (exit code 3)"},
           child_case{"hanging-parser", "exec sleep 60", "parsing took longer than 1 s and was stopped"},
       }) {
    auto isolation = broken_child();
    isolation.executable = fake_parser(c.name, c.script);
    isolation.timeout = std::chrono::seconds(1);
    auto doc = ingest::parse_file_isolated(shared_doc("de/docspell_letter-de.pdf"), no_ocr(), isolation);
    ASSERT_FALSE(doc.ok()) << c.name;
    EXPECT_EQ(doc.err().code(), errc::invalid_argument) << c.name;
    EXPECT_EQ(doc.err().message(), c.message) << c.name;
  }
}

TEST(IsolatedParse, AChildThatCannotStartIsUnavailable) {
  auto isolation = broken_child();
  isolation.executable = std::filesystem::path(testing::TempDir()) / "no-such-parser";
  auto doc = ingest::parse_file_isolated(shared_doc("de/docspell_letter-de.pdf"), no_ocr(), isolation);
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.err().code(), errc::unavailable);
}

TEST(IsolatedParse, TheChildsAnswerIsReadWithCare) {
  ingest::parsed_document doc;
  doc.format = "md";
  doc.title = "Überschrift";
  doc.pages = 2;
  doc.metadata["author"] = "Anna";
  doc.warnings.emplace_back("page 2: no text");
  doc.blocks.push_back({ingest::block_kind::heading, 1, "Überschrift", 1});
  doc.blocks.push_back({ingest::block_kind::table_row, 0, "a | b", 2});
  auto back = ingest::document_from_json(ingest::document_to_json(doc));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(ingest::document_to_json(*back), ingest::document_to_json(doc));
  EXPECT_EQ(back->blocks.at(1).kind, ingest::block_kind::table_row);

  EXPECT_EQ(ingest::document_from_json("not json").err().code(), errc::internal);
  EXPECT_EQ(ingest::document_from_json(R"({"blocks":[["heading",1]]})").err().message(),
            "the parser process answered a malformed block");
  auto err = ingest::document_from_json(R"({"error":{"code":"payload_too_large","message":"too big"}})");
  EXPECT_EQ(err.err().code(), errc::payload_too_large);
  EXPECT_EQ(err.err().message(), "too big");
}
