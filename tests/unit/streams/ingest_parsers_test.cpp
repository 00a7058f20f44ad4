// The document parsers on real documents (shared/data/docs: German and English PDF,
// DOCX, PPTX, XLSX, HTML, Markdown, text, scans, an encrypted PDF) and on broken,
// hostile and hand-made input: every result is checked for its content, every failure
// for its error code.
#include <gtest/gtest.h>
#include <zip.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/utf8.hpp"
#include "streams/ingest/parsers.hpp"
#include "test_images.hpp"

namespace ingest = wattos::streams::ingest;
using wattos::core::errc;

namespace {

std::filesystem::path doc_path(const std::string& relative) {
  return std::filesystem::path(WATTOS_SHARED_DATA) / "docs" / relative;
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

ingest::parse_limits no_ocr() {
  ingest::parse_limits limits;
  limits.ocr = false;
  return limits;
}

ingest::parsed_document parse_ok(const std::string& relative, const ingest::parse_limits& limits = no_ocr()) {
  auto doc = ingest::parse_file(doc_path(relative), limits);
  EXPECT_TRUE(doc.ok()) << relative << ": " << (doc.ok() ? "" : doc.err().message());
  if (!doc.ok()) return {};
  for (const auto& b : doc->blocks) {
    EXPECT_TRUE(wattos::core::is_valid_utf8(b.text)) << relative;
    EXPECT_FALSE(b.text.empty()) << relative;
  }
  return std::move(doc).value();
}

ingest::parsed_document parse_text_ok(std::string_view bytes, const ingest::parse_limits& limits = no_ocr()) {
  auto doc = ingest::parse_bytes(bytes, limits);
  EXPECT_TRUE(doc.ok()) << (doc.ok() ? "" : doc.err().message());
  if (!doc.ok()) return {};
  return std::move(doc).value();
}

errc parse_error(std::string_view bytes, const ingest::parse_limits& limits = no_ocr()) {
  auto doc = ingest::parse_bytes(bytes, limits);
  if (doc.ok()) return errc::ok;
  return doc.err().code();
}

std::string page_text(const ingest::parsed_document& doc, int page) {
  std::string out;
  for (const auto& b : doc.blocks)
    if (b.page == page) out += b.text + "\n";
  return out;
}

bool contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

const ingest::block* find_block(const ingest::parsed_document& doc, ingest::block_kind kind, std::string_view text) {
  for (const auto& b : doc.blocks)
    if (b.kind == kind && contains(b.text, text)) return &b;
  return nullptr;
}

// A ZIP archive built with libzip (deflated entries), as bytes.
std::string make_zip(const std::vector<std::pair<std::string, std::string>>& entries) {
  auto path =
      std::filesystem::path(testing::TempDir()) / ("ingest_zip_" + std::to_string(std::random_device{}()) + ".zip");
  int err = 0;
  zip_t* za = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  EXPECT_NE(za, nullptr);
  for (const auto& [name, content] : entries) {
    zip_source_t* src = zip_source_buffer(za, content.data(), content.size(), 0);
    zip_int64_t index = zip_file_add(za, name.c_str(), src, ZIP_FL_OVERWRITE);
    EXPECT_GE(index, 0);
    zip_set_file_compression(za, static_cast<zip_uint64_t>(index), ZIP_CM_DEFLATE, 9);
  }
  EXPECT_EQ(zip_close(za), 0);
  std::string bytes = read_bytes(path);
  std::filesystem::remove(path);
  return bytes;
}

const std::string docx_content_types =
    R"(<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>)";

std::string minimal_docx(const std::string& body) {
  std::string document =
      R"(<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>)" +
      body + "</w:body></w:document>";
  return make_zip({{"[Content_Types].xml", docx_content_types}, {"word/document.xml", document}});
}

// The letter in four formats says the same.
const std::vector<std::string> letter_sentences = {
    "hiermit kündige ich meine Mitgliedschaft in der Kranken- und Pflegeversicherung zum nächstmöglichen Termin.",
    "Bitte senden Sie mir innerhalb der gesetzlichen Frist von 14 Tagen eine Kündigungsbestätigung zu.",
    "Vielen Dank im Vorraus!",
    "Mit freundlichen Grüßen",
};

}  // namespace

// ---------------------------------------------------------------- PDF

TEST(IngestPdf, GrundgesetzHasItsPagesAndArticleOneOnPageOne) {
  auto doc = parse_ok("de/Duetsche_Grundgesetz.pdf");
  EXPECT_EQ(doc.format, "pdf");
  EXPECT_EQ(doc.mime_type, "application/pdf");
  EXPECT_EQ(doc.pages, 51);
  EXPECT_EQ(doc.ocr_pages, 0);
  EXPECT_EQ(doc.date, "2025-03-26");
  EXPECT_TRUE(contains(page_text(doc, 1), "(1) Die Würde des Menschen ist unantastbar."));
  EXPECT_FALSE(contains(page_text(doc, 2), "Die Würde des Menschen ist unantastbar"));
  EXPECT_TRUE(contains(ingest::document_text(doc), "Grundgesetz für die Bundesrepublik Deutschland"));
  // Every page contributed text, in page order.
  int last_page = 0;
  for (const auto& b : doc.blocks) {
    EXPECT_GE(b.page, last_page);
    last_page = b.page;
  }
  EXPECT_EQ(last_page, 51);
}

TEST(IngestPdf, HyphenatedLineBreaksAreJoined) {
  auto doc = parse_ok("de/docspell_letter-de.pdf");
  std::string text = ingest::document_text(doc);
  EXPECT_TRUE(contains(text, "Kündigungsbestätigung"));
  EXPECT_FALSE(contains(text, "Kündigungsbe-"));
  EXPECT_EQ(doc.metadata["author"], "Max Mustermann");
  EXPECT_EQ(doc.date, "2019-09-03");
}

TEST(IngestPdf, EnglishMultipagePdf) {
  auto doc = parse_ok("en/markitdown_REPAIR-2022-INV-001_multipage.pdf");
  EXPECT_EQ(doc.pages, 3);
  EXPECT_EQ(doc.metadata["author"], "Miti Joshi");
  EXPECT_FALSE(page_text(doc, 1).empty());
  EXPECT_FALSE(page_text(doc, 3).empty());
}

TEST(IngestPdf, EncryptedPdfNeedsAPassword) {
  auto doc = ingest::parse_file(doc_path("special/docspell_encrypted-test123.pdf"), no_ocr());
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.err().code(), errc::failed_precondition);
  EXPECT_TRUE(contains(doc.err().message(), "encrypted"));
}

TEST(IngestPdf, TruncatedPdfIsInvalid) {
  std::string bytes = read_bytes(doc_path("de/Duetsche_Grundgesetz.pdf"));
  EXPECT_EQ(parse_error(std::string_view(bytes).substr(0, bytes.size() / 2)), errc::invalid_argument);
  EXPECT_EQ(parse_error(std::string_view(bytes).substr(0, 1000)), errc::invalid_argument);
}

TEST(IngestPdf, PageLimit) {
  ingest::parse_limits limits = no_ocr();
  limits.max_pages = 10;
  auto doc = ingest::parse_file(doc_path("de/Duetsche_Grundgesetz.pdf"), limits);
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.err().code(), errc::payload_too_large);
}

TEST(IngestPdf, TextLimit) {
  ingest::parse_limits limits = no_ocr();
  limits.max_text_bytes = 10'000;
  auto doc = ingest::parse_file(doc_path("de/Duetsche_Grundgesetz.pdf"), limits);
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.err().code(), errc::payload_too_large);
}

TEST(IngestPdf, ScannedPageWithoutOcrGivesNoText) {
  auto doc = parse_ok("special/docspell_scanned_pdfa14.pdf");
  EXPECT_EQ(doc.pages, 1);
  EXPECT_EQ(doc.ocr_pages, 0);
  EXPECT_TRUE(doc.blocks.empty());
  ASSERT_EQ(doc.warnings.size(), 1u);
  EXPECT_EQ(doc.warnings[0], "page 1: no text layer, OCR is off");
}

TEST(IngestOcr, ScannedPdfIsRead) {
  ingest::parse_limits limits;
  limits.max_ocr_pages = 1;
  auto doc = parse_ok("special/docspell_scanned_pdfa14.pdf", limits);
  EXPECT_EQ(doc.ocr_pages, 1);
  std::string text = ingest::document_text(doc);
  EXPECT_TRUE(contains(text, "Old Sticky Pancake Company")) << text;
}

TEST(IngestOcr, OcrPageLimitIsKept) {
  ingest::parse_limits limits;
  limits.max_ocr_pages = 1;
  auto doc = parse_ok("special/markitdown_MEDRPT-2024-PAT-3847_medical_report_scan.pdf", limits);
  EXPECT_EQ(doc.pages, 3);
  EXPECT_EQ(doc.ocr_pages, 1);
  EXPECT_TRUE(contains(page_text(doc, 1), "SEATTLE GENERAL HOSPITAL")) << page_text(doc, 1);
  EXPECT_TRUE(page_text(doc, 2).empty());
  ASSERT_FALSE(doc.warnings.empty());
  EXPECT_TRUE(contains(doc.warnings[0], "page 2"));
}

TEST(IngestImage, DetectedAndCheckedWithoutOcr) {
  // The letter's page as a PNG, rendered by poppler at a low resolution.
  std::string png = wattos::infra::llm::testing::data_url_bytes(wattos::infra::llm::testing::letter_data_url(40));
  ASSERT_GT(png.size(), 100u);
  EXPECT_EQ(ingest::detect_format(png).format, "image");
  auto doc = parse_text_ok(png);
  EXPECT_EQ(doc.format, "image");
  EXPECT_EQ(doc.mime_type, "image/png");
  EXPECT_TRUE(doc.blocks.empty());
  ASSERT_EQ(doc.warnings.size(), 1u);
  EXPECT_TRUE(contains(doc.warnings[0], "OCR is off"));
  // The data cut off after the header: the decoder fails (no OCR engine is needed).
  ingest::parse_limits ocr;
  EXPECT_EQ(parse_error(std::string_view(png).substr(0, 200), ocr), errc::invalid_argument);
  // A header that declares 100000 x 100000 pixels is refused before anything is decoded.
  std::string huge = png;
  const char dims[8] = {0, 1, static_cast<char>(0x86), static_cast<char>(0xA0),
                        0, 1, static_cast<char>(0x86), static_cast<char>(0xA0)};
  huge.replace(16, 8, dims, 8);  // IHDR width and height
  EXPECT_EQ(parse_error(huge), errc::payload_too_large);
}

// A phone photo of a letter is stored sideways with an EXIF orientation: ingestion reads
// it as a viewer shows it.
TEST(IngestOcr, APhotoIsReadUpright) {
  namespace images = wattos::infra::llm::testing;
  const std::string stored = images::sideways_letter_jpeg();
  ASSERT_FALSE(stored.empty()) << "the letter could not be rendered";
  ingest::parse_limits limits;
  // Without its orientation the sentence is not read (so the check below can fail).
  auto unturned = parse_text_ok(stored, limits);
  EXPECT_FALSE(contains(ingest::document_text(unturned), "Mitgliedschaft"));

  const std::string photo = images::jpeg_with_segment(stored, 0xE1, images::exif_payload(6));  // turn right to show
  auto doc = parse_text_ok(photo, limits);
  EXPECT_EQ(doc.format, "image");
  EXPECT_EQ(doc.ocr_pages, 1);
  EXPECT_TRUE(contains(ingest::document_text(doc), "Mitgliedschaft")) << ingest::document_text(doc);
}

TEST(IngestDetect, ParsesFromSeveralThreadsAtOnce) {
  // libmagic handles are per thread; poppler, libzip and pugixml state per document.
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t, &ok] {
      const char* file = t % 2 == 0 ? "de/docspell_letter-de.pdf" : "en/markitdown_test.docx";
      for (int i = 0; i < 3; ++i) {
        auto doc = ingest::parse_file(doc_path(file), no_ocr());
        if (doc.ok() && !doc->blocks.empty()) ++ok[static_cast<std::size_t>(t)];
      }
    });
  for (auto& th : threads) th.join();
  for (int n : ok) EXPECT_EQ(n, 3);
}

// ---------------------------------------------------------------- the same letter in four formats

TEST(IngestFormats, TheLetterSaysTheSameInEveryFormat) {
  for (const std::string format : {"html", "pdf", "md", "txt"}) {
    auto doc = parse_ok("de/docspell_letter-de." + format);
    EXPECT_EQ(doc.format, format);
    std::string text = ingest::document_text(doc);
    for (const auto& sentence : letter_sentences) EXPECT_TRUE(contains(text, sentence)) << format << ": " << sentence;
    EXPECT_TRUE(contains(text, "12346 Ulmen")) << format;
  }
}

TEST(IngestFormats, LetterHeadingsInHtmlAndMarkdown) {
  auto html = parse_ok("de/docspell_letter-de.html");
  const auto* h = find_block(html, ingest::block_kind::heading, "Sehr geehrte Damen und Herren");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->level, 2);
  auto md = parse_ok("de/docspell_letter-de.md");
  h = find_block(md, ingest::block_kind::heading, "Sehr geehrte Damen und Herren,");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->level, 2);
  // Inline markup is gone.
  EXPECT_FALSE(contains(ingest::document_text(md), "**"));
  EXPECT_FALSE(contains(ingest::document_text(md), "<br>"));
}

// ---------------------------------------------------------------- Office

TEST(IngestOffice, EnglishDocxHeadingsAndTable) {
  auto doc = parse_ok("en/markitdown_test.docx");
  EXPECT_EQ(doc.format, "docx");
  const auto* title = find_block(doc, ingest::block_kind::heading,
                                 "AutoGen: Enabling Next-Gen LLM Applications via Multi-Agent Conversation");
  ASSERT_NE(title, nullptr);
  EXPECT_EQ(title->level, 1);
  // Styles named "heading 1" / "heading 2" in styles.xml under ids "1" and "2".
  const auto* abstract = find_block(doc, ingest::block_kind::heading, "Abstract");
  ASSERT_NE(abstract, nullptr);
  EXPECT_EQ(abstract->level, 1);
  const auto* h2 = find_block(doc, ingest::block_kind::heading, "d666f1f7-46cb-42bd-9a39-9a39cf2a509f");
  ASSERT_NE(h2, nullptr);
  EXPECT_EQ(h2->level, 2);
  EXPECT_NE(find_block(doc, ingest::block_kind::table_row, " | "), nullptr);
  EXPECT_NE(find_block(doc, ingest::block_kind::paragraph, "Here is a random table for .docx parsing test purposes:"),
            nullptr);
}

TEST(IngestOffice, GermanDocxWorksheet) {
  auto doc = parse_ok("de/Arbeitsblatt Selbstreflexion.docx");
  std::string text = ingest::document_text(doc);
  EXPECT_TRUE(contains(text, "Dieses Arbeitsblatt soll Sie dabei unterstützen"));
  EXPECT_TRUE(contains(text, "Gillen, J. (2006): Kompetenzanalysen als berufliche Entwicklungschance."));
  EXPECT_NE(find_block(doc, ingest::block_kind::list_item, ""), nullptr);
  // Drawing positions (wp:posOffset) are numbers in the XML, not text.
  EXPECT_FALSE(contains(text, "3569335"));
}

TEST(IngestOffice, EnglishPptxSlidesInOrder) {
  auto doc = parse_ok("en/markitdown_test.pptx");
  EXPECT_EQ(doc.format, "pptx");
  EXPECT_EQ(doc.pages, 6);
  const auto* t1 = find_block(doc, ingest::block_kind::heading, "AutoGen: Enabling Next-Gen LLM Applications");
  ASSERT_NE(t1, nullptr);
  EXPECT_EQ(t1->page, 1);
  const auto* t3 = find_block(doc, ingest::block_kind::heading, "A table to test parsing:");
  ASSERT_NE(t3, nullptr);
  EXPECT_EQ(t3->page, 3);
  const auto* row = find_block(doc, ingest::block_kind::table_row, "ColA | ColB | ColC | ColD | ColE | ColF");
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(row->page, 3);
  // Text in a group of shapes.
  const auto* nested =
      find_block(doc, ingest::block_kind::paragraph, "This is a nested shape with content in 2 shapes");
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ(nested->page, 5);
  EXPECT_TRUE(contains(page_text(doc, 6), "These Test Strings are in the Image!"));
}

TEST(IngestOffice, GermanPptxTemplate) {
  auto doc = parse_ok("de/Vorlage Fahrplan Advance Organizer.pptx");
  EXPECT_EQ(doc.pages, 4);
  EXPECT_TRUE(contains(page_text(doc, 1), "Grad der Virtualität"));
  EXPECT_TRUE(contains(ingest::document_text(doc), "CC 0"));
}

TEST(IngestOffice, EnglishXlsxSheets) {
  auto doc = parse_ok("en/markitdown_test.xlsx");
  EXPECT_EQ(doc.format, "xlsx");
  EXPECT_EQ(doc.pages, 2);
  const auto* sheet1 = find_block(doc, ingest::block_kind::heading, "Sheet1");
  ASSERT_NE(sheet1, nullptr);
  EXPECT_EQ(sheet1->page, 1);
  const auto* sheet2 = find_block(doc, ingest::block_kind::heading, "09060124-b5e7-4717-9d07-3c046eb");
  ASSERT_NE(sheet2, nullptr);
  EXPECT_EQ(sheet2->page, 2);
  const auto* header = find_block(doc, ingest::block_kind::table_row, "Alpha | Beta | Gamma | Delta");
  ASSERT_NE(header, nullptr);
  EXPECT_EQ(header->page, 1);
  EXPECT_TRUE(contains(page_text(doc, 2), "affc7dad-52dc-4b98-9b5d-51e65d8a8ad0"));
}

TEST(IngestOffice, GermanXlsxSheetNames) {
  auto doc = parse_ok("de/D-EITI_Zahlungsabgleich_2016.xlsx");
  EXPECT_EQ(doc.pages, 9);
  const auto* sheet = find_block(doc, ingest::block_kind::heading, "Übersicht je Zahlung");
  ASSERT_NE(sheet, nullptr);
  EXPECT_EQ(sheet->page, 3);
  const auto* last = find_block(doc, ingest::block_kind::heading, "Beispielunt GewSt");
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->page, 9);
}

TEST(IngestOffice, LegacyXlsIsUnsupported) {
  auto doc =
      ingest::parse_file(doc_path("de/Umsatz_und_Beschaeftigung_Bergbau_Steine_und_Erden_2016-2018.xls"), no_ocr());
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.err().code(), errc::unsupported_media);
  EXPECT_TRUE(contains(doc.err().message(), "legacy")) << doc.err().message();
}

TEST(IngestOffice, HandMadeDocxStylesListsAndTables) {
  std::string bytes = minimal_docx(
      R"(<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Vertrag</w:t></w:r></w:p>)"
      R"(<w:p><w:r><w:t xml:space="preserve">Die Frist </w:t></w:r><w:r><w:t>beträgt drei Monate.</w:t></w:r></w:p>)"
      R"(<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr><w:r><w:t>Erster Punkt</w:t></w:r></w:p>)"
      R"(<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Name</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Wert</w:t></w:r></w:p></w:tc></w:tr></w:tbl>)"
      R"(<w:p><w:r><w:delText>gelöscht</w:delText></w:r></w:p>)");
  EXPECT_EQ(ingest::detect_format(bytes).format, "docx");
  auto doc = parse_text_ok(bytes);
  ASSERT_EQ(doc.blocks.size(), 4u);
  EXPECT_EQ(doc.blocks[0].kind, ingest::block_kind::heading);
  EXPECT_EQ(doc.blocks[0].text, "Vertrag");
  EXPECT_EQ(doc.blocks[1].text, "Die Frist beträgt drei Monate.");
  EXPECT_EQ(doc.blocks[2].kind, ingest::block_kind::list_item);
  EXPECT_EQ(doc.blocks[3].kind, ingest::block_kind::table_row);
  EXPECT_EQ(doc.blocks[3].text, "Name | Wert");
  EXPECT_EQ(doc.title, "Vertrag");
}

TEST(IngestOffice, HandMadeOdt) {
  std::string content =
      R"(<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"><office:body><office:text>)"
      R"(<text:h text:outline-level="2">Kapitel</text:h><text:p>Ein<text:s text:c="2"/>Satz <text:span>mit Span</text:span>.</text:p>)"
      R"(<text:list><text:list-item><text:p>Punkt eins</text:p></text:list-item></text:list>)"
      R"(<table:table><table:table-row><table:table-cell><text:p>A1</text:p></table:table-cell><table:table-cell><text:p>B1</text:p></table:table-cell></table:table-row></table:table>)"
      R"(</office:text></office:body></office:document-content>)";
  // ODF wants "mimetype" first and stored; libzip's order is the order of adding.
  std::string bytes = make_zip({{"mimetype", "application/vnd.oasis.opendocument.text"}, {"content.xml", content}});
  EXPECT_EQ(ingest::detect_format(bytes).format, "odt");
  auto doc = parse_text_ok(bytes);
  EXPECT_EQ(doc.format, "odt");
  ASSERT_EQ(doc.blocks.size(), 4u);
  EXPECT_EQ(doc.blocks[0].kind, ingest::block_kind::heading);
  EXPECT_EQ(doc.blocks[0].level, 2);
  EXPECT_EQ(doc.blocks[1].text, "Ein Satz mit Span.");
  EXPECT_EQ(doc.blocks[2].kind, ingest::block_kind::list_item);
  EXPECT_EQ(doc.blocks[3].text, "A1 | B1");
}

TEST(IngestOffice, CorruptZipIsInvalid) {
  std::string bytes = read_bytes(doc_path("en/markitdown_test.docx"));
  EXPECT_EQ(parse_error(std::string_view(bytes).substr(0, 2000)), errc::invalid_argument);
  // Damaged compressed data of the main part: the inflate or the CRC check fails.
  std::string damaged = minimal_docx(std::string(2000, 'x') + "<w:p><w:r><w:t>Text</w:t></w:r></w:p>");
  std::size_t at = damaged.find("word/document.xml");
  ASSERT_NE(at, std::string::npos);
  for (std::size_t i = at + 40; i < at + 80 && i < damaged.size(); ++i)
    damaged[i] = static_cast<char>(damaged[i] ^ 0x5A);
  EXPECT_EQ(parse_error(damaged), errc::invalid_argument);
}

TEST(IngestOffice, ZipBombsAreRefused) {
  std::string zeros(8u << 20, '\0');
  std::string bomb = make_zip({{"[Content_Types].xml", docx_content_types}, {"word/document.xml", zeros}});
  EXPECT_LT(bomb.size(), 100'000u);
  // Over the compression ratio (8 MiB of zeros pack to a few KiB).
  EXPECT_EQ(parse_error(bomb), errc::payload_too_large);
  // Over the total of unpacked bytes, with the ratio check out of the way.
  ingest::parse_limits limits = no_ocr();
  limits.max_compression_ratio = 1e9;
  limits.max_unpacked_bytes = 1u << 20;
  EXPECT_EQ(parse_error(bomb, limits), errc::payload_too_large);
}

// ---------------------------------------------------------------- HTML and Markdown

TEST(IngestHtml, WikipediaMainContentWithoutBoilerplate) {
  auto doc = parse_ok("en/markitdown_test_wikipedia.html");
  EXPECT_EQ(doc.format, "html");
  EXPECT_TRUE(contains(doc.title, "Microsoft")) << doc.title;
  std::string text = ingest::document_text(doc);
  EXPECT_TRUE(contains(text, "Microsoft Corporation is an American multinational")) << text.substr(0, 2000);
  EXPECT_NE(find_block(doc, ingest::block_kind::heading, "History"), nullptr);
  EXPECT_FALSE(contains(text, "function("));
  EXPECT_FALSE(contains(text, "Jump to content"));
}

TEST(IngestHtml, SkipsScriptsNavigationAndDecodesEntities) {
  auto doc = parse_text_ok(
      "<!DOCTYPE html><html><head><title>Seite</title><script>var x = 1;</script><style>p{}</style></head>"
      "<body><nav>Menü</nav><header>Kopfzeile</header><main><h1>Kopf</h1><p>Absatz &amp; mehr&nbsp;Text</p>"
      "<ul><li>Eins</li><li>Zwei</li></ul><table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr></table>"
      "<pre>line 1\n  line 2</pre></main><footer>Fuß</footer></body></html>");
  EXPECT_EQ(doc.format, "html");
  EXPECT_EQ(doc.title, "Seite");
  std::string text = ingest::document_text(doc);
  EXPECT_FALSE(contains(text, "Menü"));
  EXPECT_FALSE(contains(text, "Kopfzeile"));
  EXPECT_FALSE(contains(text, "Fuß"));
  EXPECT_FALSE(contains(text, "var x"));
  ASSERT_EQ(doc.blocks.size(), 7u);
  EXPECT_EQ(doc.blocks[0].kind, ingest::block_kind::heading);
  EXPECT_EQ(doc.blocks[1].text, "Absatz & mehr Text");
  EXPECT_EQ(doc.blocks[2].kind, ingest::block_kind::list_item);
  EXPECT_EQ(doc.blocks[4].text, "A | B");
  EXPECT_EQ(doc.blocks[5].text, "1 | 2");
  EXPECT_EQ(doc.blocks[6].kind, ingest::block_kind::code);
  EXPECT_EQ(doc.blocks[6].text, "line 1\n  line 2");
}

TEST(IngestHtml, DeepNestingIsRefused) {
  std::string html = "<html><body>";
  for (int i = 0; i < 100'000; ++i) html += "<div>";
  EXPECT_EQ(parse_error(html), errc::invalid_argument);
}

TEST(IngestHtml, TagsThatNeverCloseStayCheap) {
  // "<a<a<a...": every '<' starts a tag whose '>' never comes.
  std::string html = "<!DOCTYPE html><html><body><p>Text ";
  for (int i = 0; i < 50'000; ++i) html += "<a<b";
  auto doc = ingest::parse_bytes(html, no_ocr());
  EXPECT_TRUE(doc.ok() || doc.err().code() == errc::invalid_argument);
}

TEST(IngestMarkdown, DocsifyPageWithHtmlIsReadAsHtml) {
  auto doc = parse_ok("de/twillo_step1.md");
  const auto* h = find_block(doc, ingest::block_kind::heading, "Schritt 1: OER erkennen");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->level, 1);
  EXPECT_TRUE(contains(ingest::document_text(doc), "In der Definition der UNESCO heißt es:"));
}

TEST(IngestMarkdown, BlocksAndInlineMarkup) {
  auto doc = parse_text_ok(
      "# Titel\n\nText mit **fett**, *kursiv*, `code` und [einem Link](https://example.org).\n"
      "Zweite Zeile mit snake_case_name.\n\n"
      "Unterkapitel\n------------\n\n"
      "- eins\n- zwei\n  weiter\n\n1. erstens\n\n"
      "```cpp\nint main() {\n  return 0;\n}\n```\n\n| A | B |\n|---|---|\n| 1 | 2 |\n");
  EXPECT_EQ(doc.format, "md");
  ASSERT_EQ(doc.blocks.size(), 9u);
  EXPECT_EQ(doc.blocks[0].kind, ingest::block_kind::heading);
  EXPECT_EQ(doc.blocks[0].text, "Titel");
  EXPECT_EQ(doc.blocks[1].text, "Text mit fett, kursiv, code und einem Link. Zweite Zeile mit snake_case_name.");
  EXPECT_EQ(doc.blocks[2].kind, ingest::block_kind::heading);
  EXPECT_EQ(doc.blocks[2].level, 2);
  EXPECT_EQ(doc.blocks[3].kind, ingest::block_kind::list_item);
  EXPECT_EQ(doc.blocks[4].text, "zwei weiter");
  EXPECT_EQ(doc.blocks[5].text, "erstens");
  EXPECT_EQ(doc.blocks[6].kind, ingest::block_kind::code);
  EXPECT_EQ(doc.blocks[6].text, "int main() {\n  return 0;\n}");
  EXPECT_EQ(doc.blocks[7].text, "A | B");
  EXPECT_EQ(doc.blocks[8].kind, ingest::block_kind::table_row);
  EXPECT_EQ(doc.title, "Titel");
}

// ---------------------------------------------------------------- text, CSV, JSON

TEST(IngestText, ParagraphsAndLatin1) {
  auto doc = parse_text_ok(
      "Gr\xFC\xDF"
      "e aus K\xF6ln,\nzweite Zeile.\n\nNeuer Absatz mit Verfas-\nsung.\n");
  EXPECT_EQ(doc.format, "txt");
  ASSERT_EQ(doc.blocks.size(), 2u);
  EXPECT_EQ(doc.blocks[0].text, "Grüße aus Köln, zweite Zeile.");
  EXPECT_EQ(doc.blocks[1].text, "Neuer Absatz mit Verfassung.");
}

TEST(IngestText, CsvWithHeaderAndQuotes) {
  auto doc = parse_text_ok("Name;Stadt;Betrag\nM\xC3\xBCller;K\xC3\xB6ln;\"12,50\"\n\"Meier; Sohn\";Bonn;\"3\n4\"\n");
  EXPECT_EQ(doc.format, "csv");
  ASSERT_EQ(doc.blocks.size(), 3u);
  EXPECT_EQ(doc.blocks[0].text, "Name | Stadt | Betrag");
  EXPECT_EQ(doc.blocks[1].text, "Name: Müller | Stadt: Köln | Betrag: 12,50");
  EXPECT_EQ(doc.blocks[2].text, "Name: Meier; Sohn | Stadt: Bonn | Betrag: 3 4");
  EXPECT_EQ(doc.blocks[1].kind, ingest::block_kind::table_row);
}

TEST(IngestText, JsonPathLines) {
  auto doc = parse_text_ok(R"({"vertrag": {"partei": ["Müller", "Meier"], "frist": 3, "aktiv": true}})");
  EXPECT_EQ(doc.format, "json");
  std::string text = ingest::document_text(doc);
  EXPECT_TRUE(contains(text, "vertrag.partei[0]: Müller"));
  EXPECT_TRUE(contains(text, "vertrag.partei[1]: Meier"));
  EXPECT_TRUE(contains(text, "vertrag.frist: 3"));
  EXPECT_TRUE(contains(text, "vertrag.aktiv: true"));
  std::string deep(10'000, '[');
  deep += std::string(10'000, ']');
  EXPECT_EQ(parse_error(deep), errc::invalid_argument);
}

// ---------------------------------------------------------------- e-mail

TEST(IngestEmail, MultipartWithEncodedHeadersAndAttachment) {
  std::string csv_base64 = "U3RhZHQ7RWlud29obmVyCkvDtmxuOzEwODQ4MzEK";  // Stadt;Einwohner\nKöln;1084831\n
  std::string eml =
      "From: =?utf-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.org>\r\n"
      "To: team@example.org\r\n"
      "Subject: =?utf-8?B?S8O8bmRpZ3VuZw==?= des\r\n Vertrags\r\n"
      "Date: Tue, 3 Sep 2019 20:05:46 +0200\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
      "preamble\r\n--outer\r\n"
      "Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
      "--inner\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
      "Sehr geehrte Damen und Herren,\r\n\r\nhiermit k=FCndige ich meinen Vertrag zum n=E4chstm=F6glichen "
      "=\r\nTermin.\r\n"
      "--inner\r\nContent-Type: text/html\r\n\r\n<p>HTML version</p>\r\n--inner--\r\n"
      "--outer\r\nContent-Type: text/csv; name=\"liste.csv\"\r\nContent-Disposition: attachment; "
      "filename=\"liste.csv\"\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n" +
      csv_base64 + "\r\n--outer--\r\n";
  auto doc = parse_text_ok(eml);
  EXPECT_EQ(doc.format, "eml");
  EXPECT_EQ(doc.title, "Kündigung des Vertrags");
  EXPECT_EQ(doc.date, "2019-09-03");
  EXPECT_EQ(doc.metadata["from"], "Jürgen Müller <jm@example.org>");
  EXPECT_EQ(doc.metadata["to"], "team@example.org");
  std::string text = ingest::document_text(doc);
  EXPECT_TRUE(contains(text, "hiermit kündige ich meinen Vertrag zum nächstmöglichen Termin.")) << text;
  EXPECT_FALSE(contains(text, "HTML version"));
  EXPECT_NE(find_block(doc, ingest::block_kind::heading, "Anhang: liste.csv"), nullptr);
  EXPECT_TRUE(contains(text, "Stadt: Köln | Einwohner: 1084831")) << text;
}

TEST(IngestEmail, HtmlOnlyBodyAndNestingLimit) {
  std::string inner_mail = "From: a@example.org\nTo: b@example.org\nSubject: Innen\n\nInnerer Text.\n";
  std::string eml =
      "From: x@example.org\nTo: y@example.org\nSubject: Aussen\nContent-Type: multipart/mixed; boundary=b\n\n"
      "--b\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
      "PHA+w4R1w59lcmVyIFRleHQ8L3A+\n"  // <p>Äußerer Text</p>
      "--b\nContent-Type: message/rfc822\n\n" +
      inner_mail + "--b--\n";
  auto doc = parse_text_ok(eml);
  EXPECT_EQ(doc.format, "eml");
  std::string text = ingest::document_text(doc);
  EXPECT_TRUE(contains(text, "Äußerer Text")) << text;
  EXPECT_TRUE(contains(text, "Innerer Text.")) << text;
  ingest::parse_limits flat = no_ocr();
  flat.max_nesting = 0;
  auto shallow = parse_text_ok(eml, flat);
  EXPECT_FALSE(contains(ingest::document_text(shallow), "Innerer Text."));
  ASSERT_FALSE(shallow.warnings.empty());
  EXPECT_TRUE(contains(shallow.warnings[0], "nested"));
}

// ---------------------------------------------------------------- detection and hostile input

TEST(IngestDetect, ByContentNotByName) {
  EXPECT_EQ(ingest::detect_format(read_bytes(doc_path("en/markitdown_test.docx"))).format, "docx");
  EXPECT_EQ(ingest::detect_format(read_bytes(doc_path("en/markitdown_test.pptx"))).format, "pptx");
  EXPECT_EQ(ingest::detect_format(read_bytes(doc_path("en/markitdown_test.xlsx"))).format, "xlsx");
  EXPECT_EQ(ingest::detect_format(read_bytes(doc_path("en/markitdown_test.pdf"))).format, "pdf");
  EXPECT_EQ(ingest::detect_format(read_bytes(doc_path("de/docspell_letter-de.html"))).format, "html");
  EXPECT_EQ(ingest::detect_format(read_bytes(doc_path("de/docspell_letter-de.md"))).format, "md");
  EXPECT_EQ(ingest::detect_format(read_bytes(doc_path("de/docspell_letter-de.txt"))).format, "txt");
  EXPECT_EQ(ingest::detect_format("").format, "");
  // Text that one of libmagic's weak rules takes for something else (HP-GL: "PA") is text;
  // found ingesting SciFact abstracts.
  EXPECT_EQ(ingest::detect_format("PAAR-repeat proteins sharpen and diversify the Type VI secretion system spike\n\n"
                                  "Die Größe zählt nicht.")
                .format,
            "txt");
  // A PDF saved under a .txt name is a PDF.
  auto renamed = std::filesystem::path(testing::TempDir()) / "brief.txt";
  std::filesystem::copy_file(doc_path("de/docspell_letter-de.pdf"), renamed,
                             std::filesystem::copy_options::overwrite_existing);
  auto doc = ingest::parse_file(renamed, no_ocr());
  std::filesystem::remove(renamed);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->format, "pdf");
}

TEST(IngestDetect, EmptyRandomAndMissing) {
  EXPECT_EQ(parse_error(""), errc::invalid_argument);
  std::mt19937 rng(42);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  EXPECT_EQ(parse_error(noise), errc::unsupported_media);
  EXPECT_EQ(ingest::parse_file(doc_path("no/such/file.pdf"), no_ocr()).err().code(), errc::not_found);
  ingest::parse_limits tiny = no_ocr();
  tiny.max_file_bytes = 100;
  EXPECT_EQ(ingest::parse_file(doc_path("de/docspell_letter-de.pdf"), tiny).err().code(), errc::payload_too_large);
}

TEST(IngestDetect, DocumentTextJoinsBlocks) {
  ingest::parsed_document doc;
  doc.blocks.push_back({ingest::block_kind::heading, 1, "Kopf", 0});
  doc.blocks.push_back({ingest::block_kind::paragraph, 0, "Text", 0});
  EXPECT_EQ(ingest::document_text(doc), "Kopf\n\nText");
}

TEST(IngestDetect, BlockLimit) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "Absatz " + std::to_string(i) + "\n\n";
  ingest::parse_limits limits = no_ocr();
  limits.max_blocks = 10;
  EXPECT_EQ(parse_error(text, limits), errc::payload_too_large);
}
