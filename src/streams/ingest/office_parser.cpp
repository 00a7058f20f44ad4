// DOCX, PPTX, XLSX and ODT: ZIP containers of XML parts (libzip from memory, pugixml).
#include <pugixml.hpp>
#include <zip.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "streams/ingest/parser_internal.hpp"

namespace wattos::streams::ingest::detail {

namespace {

// Entries of a document container; more is an archive, not a document.
constexpr zip_int64_t max_zip_entries = 100'000;
// The ratio check starts at this size: tiny entries compress oddly without harm.
constexpr zip_uint64_t ratio_check_from = 64u << 10;
// XML nesting we follow; deeper content is skipped (malicious nesting, never real text).
constexpr int max_xml_depth = 256;

struct zip_closer {
  void operator()(zip_t* za) const { zip_discard(za); }
};

std::string zip_error_text(zip_error_t* err) {
  std::string text = zip_error_strerror(err);
  zip_error_fini(err);
  return text;
}

// An opened container with a budget of unpacked bytes for all entries read from it.
class zip_reader {
 public:
  static core::result<zip_reader> open(std::string_view bytes, const parse_limits* limits) {
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* src = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &err);
    if (src == nullptr) return core::error::internal("zip source: " + zip_error_text(&err));
    zip_t* za = zip_open_from_source(src, ZIP_RDONLY, &err);
    if (za == nullptr) {
      zip_source_free(src);
      return core::error::invalid_argument("corrupt ZIP container: " + zip_error_text(&err));
    }
    zip_error_fini(&err);
    zip_reader reader(za, limits != nullptr ? limits->max_unpacked_bytes : (64u << 20));
    if (limits != nullptr) WATTOS_RETURN_IF_ERROR(reader.check_sizes(*limits));
    return reader;
  }

  bool has(const std::string& name) const { return zip_name_locate(za_.get(), name.c_str(), 0) >= 0; }

  // The entry's bytes. The header's sizes are checked up front, but a header may lie:
  // the read stops at the remaining budget whatever it says.
  core::result<std::string> read(const std::string& name) {
    zip_int64_t index = zip_name_locate(za_.get(), name.c_str(), 0);
    if (index < 0) return core::error::invalid_argument("the document has no " + name);
    zip_file_t* file = zip_fopen_index(za_.get(), static_cast<zip_uint64_t>(index), 0);
    if (file == nullptr) {
      zip_error_t* err = zip_get_error(za_.get());
      if (zip_error_code_zip(err) == ZIP_ER_NOPASSWD || zip_error_code_zip(err) == ZIP_ER_WRONGPASSWD)
        return core::error::failed_precondition("the document is encrypted (" + name + ")");
      return core::error::invalid_argument("cannot read " + name + ": " + zip_strerror(za_.get()));
    }
    std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> closer(file, &zip_fclose);
    std::string out;
    char buf[64 * 1024];
    while (true) {
      zip_int64_t n = zip_fread(file, buf, sizeof buf);
      if (n < 0) return core::error::invalid_argument("corrupt ZIP entry " + name + ": " + zip_file_strerror(file));
      if (n == 0) break;
      if (static_cast<std::uint64_t>(n) > budget_)
        return core::error::payload_too_large("the document unpacks to more than the limit of unpacked bytes");
      budget_ -= static_cast<std::uint64_t>(n);
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  zip_reader(zip_t* za, std::uint64_t budget) : za_(za), budget_(budget) {}

  core::status check_sizes(const parse_limits& limits) {
    zip_int64_t entries = zip_get_num_entries(za_.get(), 0);
    if (entries < 0) return core::error::invalid_argument("corrupt ZIP container");
    if (entries > max_zip_entries)
      return core::error::payload_too_large("the container has " + std::to_string(entries) + " entries");
    std::uint64_t total = 0;
    for (zip_int64_t i = 0; i < entries; ++i) {
      zip_stat_t st;
      zip_stat_init(&st);
      if (zip_stat_index(za_.get(), static_cast<zip_uint64_t>(i), 0, &st) != 0) continue;
      if ((st.valid & ZIP_STAT_SIZE) == 0) continue;
      total += st.size;
      if (total > limits.max_unpacked_bytes)
        return core::error::payload_too_large("the container unpacks to more than " +
                                              std::to_string(limits.max_unpacked_bytes) + " bytes (zip bomb?)");
      if ((st.valid & ZIP_STAT_COMP_SIZE) != 0 && st.size >= ratio_check_from) {
        double ratio = static_cast<double>(st.size) / static_cast<double>(std::max<zip_uint64_t>(st.comp_size, 1));
        if (ratio > limits.max_compression_ratio)
          return core::error::payload_too_large("a container entry is compressed " + std::to_string(int(ratio)) +
                                                ":1, over the limit (zip bomb?)");
      }
    }
    return {};
  }

  std::unique_ptr<zip_t, zip_closer> za_;
  std::uint64_t budget_;
};

std::string_view local_name(const pugi::xml_node& node) {
  std::string_view name = node.name();
  std::size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

bool is(const pugi::xml_node& node, std::string_view name) {
  return local_name(node) == name;
}

// An attribute by local name (prefixes differ between producers).
std::string_view attr(const pugi::xml_node& node, std::string_view name) {
  for (auto a : node.attributes()) {
    std::string_view n = a.name();
    std::size_t colon = n.find(':');
    if ((colon == std::string_view::npos ? n : n.substr(colon + 1)) == name) return a.value();
  }
  return {};
}

pugi::xml_node child(const pugi::xml_node& node, std::string_view name) {
  for (auto c : node.children())
    if (is(c, name)) return c;
  return {};
}

core::result<std::unique_ptr<pugi::xml_document>> load_xml(zip_reader& zip, const std::string& name) {
  WATTOS_ASSIGN_OR_RETURN(std::string bytes, zip.read(name));
  auto xml = std::make_unique<pugi::xml_document>();
  pugi::xml_parse_result ok =
      xml->load_buffer(bytes.data(), bytes.size(), pugi::parse_default | pugi::parse_ws_pcdata, pugi::encoding_auto);
  if (!ok) return core::error::invalid_argument(name + " is not well-formed XML: " + ok.description());
  return xml;
}

// Relationship id -> target path (resolved against the part's folder).
core::result<std::map<std::string, std::string>> load_rels(zip_reader& zip, const std::string& rels_name,
                                                           const std::string& base_folder) {
  std::map<std::string, std::string> rels;
  if (!zip.has(rels_name)) return rels;
  WATTOS_ASSIGN_OR_RETURN(auto xml, load_xml(zip, rels_name));
  for (auto rel : xml->document_element().children()) {
    if (!is(rel, "Relationship")) continue;
    std::string target(attr(rel, "Target"));
    if (target.empty()) continue;
    if (target[0] == '/')
      target.erase(0, 1);
    else
      target.insert(0, base_folder);
    rels[std::string(attr(rel, "Id"))] = target;
  }
  return rels;
}

// All text below a node (by local name "t" for OOXML runs), skipping the named subtrees.
void collect_text(const pugi::xml_node& node, std::string& out, int depth,
                  const std::function<bool(const pugi::xml_node&)>& skip) {
  if (depth > max_xml_depth) return;
  for (auto c : node.children()) {
    if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) continue;
    if (c.type() != pugi::node_element || skip(c)) continue;
    std::string_view n = local_name(c);
    if (n == "t") {
      out += c.text().get();
    } else if (n == "tab" || n == "br" || n == "cr") {
      out += ' ';
    } else if (n == "noBreakHyphen") {
      out += '-';
    } else {
      collect_text(c, out, depth + 1, skip);
    }
  }
}

void read_core_properties(zip_reader& zip, parsed_document& doc) {
  if (!zip.has("docProps/core.xml")) return;
  auto xml = load_xml(zip, "docProps/core.xml");
  if (!xml.ok()) return;  // metadata is a bonus; the body decides whether the file is good
  for (auto c : (*xml)->document_element().children()) {
    std::string value = collapse_whitespace(c.text().get());
    if (value.empty()) continue;
    if (is(c, "title"))
      doc.title = value;
    else if (is(c, "creator"))
      doc.metadata["author"] = value;
    else if (is(c, "subject"))
      doc.metadata["subject"] = value;
    else if (is(c, "keywords"))
      doc.metadata["keywords"] = value;
    else if (is(c, "created") && value.size() >= 10)
      doc.date = value.substr(0, 10);
  }
}

// ---------------------------------------------------------------- DOCX

struct docx_styles {
  std::map<std::string, int> heading_level;  // style id -> 1..6
  std::map<std::string, bool> is_list;       // style id -> has numbering
};

int heading_level_of(std::string_view id, std::string_view name) {
  std::string n = lower_ascii(name);
  std::string i = lower_ascii(id);
  if (n == "title" || i == "title") return 1;
  for (const std::string& s : {n, i}) {
    for (std::string_view prefix : {"heading ", "heading", "berschrift", "überschrift ", "überschrift"}) {
      if (s.starts_with(prefix) && s.size() > prefix.size()) {
        int level = std::atoi(s.c_str() + prefix.size());
        if (level >= 1 && level <= 9) return std::min(level, 6);
      }
    }
  }
  return 0;
}

docx_styles load_docx_styles(zip_reader& zip) {
  docx_styles styles;
  if (!zip.has("word/styles.xml")) return styles;
  auto xml = load_xml(zip, "word/styles.xml");
  if (!xml.ok()) return styles;
  for (auto s : (*xml)->document_element().children()) {
    if (!is(s, "style") || attr(s, "type") != "paragraph") continue;
    std::string id(attr(s, "styleId"));
    int level = heading_level_of(id, attr(child(s, "name"), "val"));
    auto ppr = child(s, "pPr");
    if (level == 0 && ppr) {
      auto outline = child(ppr, "outlineLvl");
      if (outline) {
        int v = std::atoi(std::string(attr(outline, "val")).c_str());
        if (v >= 0 && v <= 5) level = v + 1;
      }
    }
    if (level > 0) styles.heading_level[id] = level;
    if (ppr && child(ppr, "numPr")) styles.is_list[id] = true;
  }
  return styles;
}

class docx_walker {
 public:
  docx_walker(block_sink& sink, const docx_styles& styles) : sink_(sink), styles_(styles) {}

  core::status body(const pugi::xml_node& node, int depth) {
    if (depth > max_xml_depth) return {};
    for (auto c : node.children()) {
      if (c.type() != pugi::node_element) continue;
      if (is(c, "p")) {
        WATTOS_RETURN_IF_ERROR(paragraph(c, depth));
      } else if (is(c, "tbl")) {
        WATTOS_RETURN_IF_ERROR(table(c, depth));
      } else if (is(c, "sectPr") || is(c, "Fallback")) {
        continue;
      } else {
        WATTOS_RETURN_IF_ERROR(body(c, depth + 1));  // sdt, sdtContent, customXml, ins, ...
      }
    }
    return {};
  }

 private:
  static bool skip_in_paragraph(const pugi::xml_node& n) {
    std::string_view l = local_name(n);
    return l == "pPr" || l == "rPr" || l == "del" || l == "Fallback" || l == "instrText" || l == "delText" ||
           l == "txbxContent";
  }

  // Text boxes anchored in a paragraph hold paragraphs of their own.
  void find_text_boxes(const pugi::xml_node& node, std::vector<pugi::xml_node>& boxes, int depth) {
    if (depth > max_xml_depth) return;
    for (auto c : node.children()) {
      if (c.type() != pugi::node_element || is(c, "Fallback")) continue;
      if (is(c, "txbxContent"))
        boxes.push_back(c);
      else
        find_text_boxes(c, boxes, depth + 1);
    }
  }

  core::status paragraph(const pugi::xml_node& p, int depth) {
    std::string text;
    collect_text(p, text, depth, skip_in_paragraph);
    block_kind kind = block_kind::paragraph;
    int level = 0;
    if (auto ppr = child(p, "pPr")) {
      std::string style(attr(child(ppr, "pStyle"), "val"));
      int by_id = style.empty() ? 0 : heading_level_of(style, "");  // no styles.xml: ids like Heading1
      if (auto it = styles_.heading_level.find(style); it != styles_.heading_level.end()) {
        kind = block_kind::heading;
        level = it->second;
      } else if (by_id > 0) {
        kind = block_kind::heading;
        level = by_id;
      } else if (auto outline = child(ppr, "outlineLvl")) {
        int v = std::atoi(std::string(attr(outline, "val")).c_str());
        if (v >= 0 && v <= 5) {
          kind = block_kind::heading;
          level = v + 1;
        }
      }
      if (kind == block_kind::paragraph && (child(ppr, "numPr") || styles_.is_list.count(style) > 0))
        kind = block_kind::list_item;
    }
    WATTOS_RETURN_IF_ERROR(sink_.add(kind, text, 0, level));
    std::vector<pugi::xml_node> boxes;
    find_text_boxes(p, boxes, depth + 1);
    for (auto box : boxes) WATTOS_RETURN_IF_ERROR(body(box, depth + 1));
    return {};
  }

  core::status table(const pugi::xml_node& tbl, int depth) {
    for (auto tr : tbl.children()) {
      if (!is(tr, "tr")) continue;
      std::string row;
      for (auto tc : tr.children()) {
        if (!is(tc, "tc")) continue;
        std::string cell;
        collect_text(tc, cell, depth + 1, [](const pugi::xml_node& n) {
          std::string_view l = local_name(n);
          return l == "pPr" || l == "rPr" || l == "tcPr" || l == "del" || l == "Fallback" || l == "instrText";
        });
        cell = collapse_whitespace(cell);
        if (cell.empty()) continue;
        if (!row.empty()) row += " | ";
        row += cell;
      }
      WATTOS_RETURN_IF_ERROR(sink_.add(block_kind::table_row, row, 0));
    }
    return {};
  }

  block_sink& sink_;
  const docx_styles& styles_;
};

core::status parse_docx(zip_reader& zip, block_sink& sink) {
  docx_styles styles = load_docx_styles(zip);
  WATTOS_ASSIGN_OR_RETURN(auto xml, load_xml(zip, "word/document.xml"));
  auto body = child(xml->document_element(), "body");
  if (!body) return core::error::invalid_argument("word/document.xml has no body");
  docx_walker walker(sink, styles);
  return walker.body(body, 0);
}

// ---------------------------------------------------------------- PPTX

class pptx_walker {
 public:
  pptx_walker(block_sink& sink, int page) : sink_(sink), page_(page) {}

  core::status shapes(const pugi::xml_node& tree, int depth) {
    if (depth > max_xml_depth) return {};
    for (auto c : tree.children()) {
      if (c.type() != pugi::node_element) continue;
      if (is(c, "sp")) {
        WATTOS_RETURN_IF_ERROR(shape(c, depth));
      } else if (is(c, "graphicFrame")) {
        WATTOS_RETURN_IF_ERROR(frame(c, depth));
      } else if (is(c, "grpSp") || is(c, "AlternateContent") || is(c, "Choice")) {
        WATTOS_RETURN_IF_ERROR(shapes(c, depth + 1));
      }
    }
    return {};
  }

 private:
  static bool no_skip(const pugi::xml_node&) { return false; }

  core::status shape(const pugi::xml_node& sp, int depth) {
    auto ph = child(child(child(sp, "nvSpPr"), "nvPr"), "ph");
    std::string_view type = attr(ph, "type");
    bool title = ph && (type == "title" || type == "ctrTitle");
    auto body = child(sp, "txBody");
    if (!body) return {};
    if (title) {
      std::string text;
      for (auto p : body.children())
        if (is(p, "p")) {
          collect_text(p, text, depth + 2, no_skip);
          text += ' ';
        }
      return sink_.add(block_kind::heading, text, page_, 1);
    }
    for (auto p : body.children()) {
      if (!is(p, "p")) continue;
      std::string text;
      collect_text(p, text, depth + 2, no_skip);
      // Bulleted body text: a paragraph with a level (a:pPr lvl) or in a body placeholder.
      WATTOS_RETURN_IF_ERROR(sink_.add(block_kind::paragraph, text, page_));
    }
    return {};
  }

  core::status frame(const pugi::xml_node& gf, int depth) {
    auto data = child(child(gf, "graphic"), "graphicData");
    auto tbl = child(data, "tbl");
    if (!tbl) return {};
    for (auto tr : tbl.children()) {
      if (!is(tr, "tr")) continue;
      std::string row;
      for (auto tc : tr.children()) {
        if (!is(tc, "tc")) continue;
        std::string cell;
        collect_text(tc, cell, depth + 3, no_skip);
        cell = collapse_whitespace(cell);
        if (cell.empty()) continue;
        if (!row.empty()) row += " | ";
        row += cell;
      }
      WATTOS_RETURN_IF_ERROR(sink_.add(block_kind::table_row, row, page_));
    }
    return {};
  }

  block_sink& sink_;
  int page_;
};

core::status parse_pptx(zip_reader& zip, block_sink& sink) {
  std::vector<std::string> slides;
  WATTOS_ASSIGN_OR_RETURN(auto pres, load_xml(zip, "ppt/presentation.xml"));
  WATTOS_ASSIGN_OR_RETURN(auto rels, load_rels(zip, "ppt/_rels/presentation.xml.rels", "ppt/"));
  for (auto id : child(pres->document_element(), "sldIdLst").children()) {
    if (!is(id, "sldId")) continue;
    auto it = rels.find(std::string(attr(id, "id")));
    if (it != rels.end() && zip.has(it->second)) slides.push_back(it->second);
  }
  if (slides.empty()) {
    // No usable slide list: slide1.xml, slide2.xml, ... in number order.
    for (int n = 1; n <= sink.limits().max_pages + 1; ++n) {
      std::string name = "ppt/slides/slide" + std::to_string(n) + ".xml";
      if (!zip.has(name)) break;
      slides.push_back(name);
    }
  }
  if (static_cast<int>(slides.size()) > sink.limits().max_pages)
    return core::error::payload_too_large("the presentation has more than " + std::to_string(sink.limits().max_pages) +
                                          " slides");
  sink.doc().pages = static_cast<int>(slides.size());
  for (std::size_t i = 0; i < slides.size(); ++i) {
    WATTOS_ASSIGN_OR_RETURN(auto slide, load_xml(zip, slides[i]));
    auto tree = child(child(slide->document_element(), "cSld"), "spTree");
    pptx_walker walker(sink, static_cast<int>(i) + 1);
    WATTOS_RETURN_IF_ERROR(walker.shapes(tree, 0));
  }
  return {};
}

// ---------------------------------------------------------------- XLSX

std::string number_text(std::string_view raw) {
  // Excel stores binary doubles: 0.55000000000000004 is 0.55 to anyone reading it.
  std::string s(raw);
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0' || s.size() > 40) return s;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

core::status parse_xlsx(zip_reader& zip, block_sink& sink) {
  std::vector<std::string> shared;
  if (zip.has("xl/sharedStrings.xml")) {
    WATTOS_ASSIGN_OR_RETURN(auto sst, load_xml(zip, "xl/sharedStrings.xml"));
    for (auto si : sst->document_element().children()) {
      if (!is(si, "si")) continue;
      std::string text;
      collect_text(si, text, 1, [](const pugi::xml_node& n) { return is(n, "rPh") || is(n, "phoneticPr"); });
      shared.push_back(std::move(text));
    }
  }
  WATTOS_ASSIGN_OR_RETURN(auto book, load_xml(zip, "xl/workbook.xml"));
  WATTOS_ASSIGN_OR_RETURN(auto rels, load_rels(zip, "xl/_rels/workbook.xml.rels", "xl/"));
  std::vector<std::pair<std::string, std::string>> sheets;  // name, part
  for (auto s : child(book->document_element(), "sheets").children()) {
    if (!is(s, "sheet")) continue;
    auto it = rels.find(std::string(attr(s, "id")));
    if (it != rels.end() && zip.has(it->second)) sheets.emplace_back(std::string(attr(s, "name")), it->second);
  }
  if (static_cast<int>(sheets.size()) > sink.limits().max_pages)
    return core::error::payload_too_large("the workbook has more than " + std::to_string(sink.limits().max_pages) +
                                          " sheets");
  sink.doc().pages = static_cast<int>(sheets.size());
  for (std::size_t i = 0; i < sheets.size(); ++i) {
    int page = static_cast<int>(i) + 1;
    WATTOS_RETURN_IF_ERROR(sink.add(block_kind::heading, sheets[i].first, page, 1));
    WATTOS_ASSIGN_OR_RETURN(auto sheet, load_xml(zip, sheets[i].second));
    for (auto row : child(sheet->document_element(), "sheetData").children()) {
      if (!is(row, "row")) continue;
      std::string line;
      for (auto c : row.children()) {
        if (!is(c, "c")) continue;
        std::string_view type = attr(c, "t");
        std::string value;
        if (type == "s") {
          long idx = std::strtol(child(c, "v").text().get(), nullptr, 10);
          if (idx >= 0 && static_cast<std::size_t>(idx) < shared.size()) value = shared[static_cast<std::size_t>(idx)];
        } else if (type == "inlineStr") {
          collect_text(child(c, "is"), value, 1, [](const pugi::xml_node& n) { return is(n, "rPh"); });
        } else if (type == "b") {
          value = std::string_view(child(c, "v").text().get()) == "1" ? "TRUE" : "FALSE";
        } else if (type == "str" || type == "e") {
          value = child(c, "v").text().get();
        } else {
          value = number_text(child(c, "v").text().get());
        }
        value = collapse_whitespace(value);
        if (value.empty()) continue;
        if (!line.empty()) line += " | ";
        line += value;
      }
      WATTOS_RETURN_IF_ERROR(sink.add(block_kind::table_row, line, page));
    }
  }
  return {};
}

// ---------------------------------------------------------------- ODT

void odf_text(const pugi::xml_node& node, std::string& out, int depth) {
  if (depth > max_xml_depth) return;
  for (auto c : node.children()) {
    if (c.type() == pugi::node_pcdata || c.type() == pugi::node_cdata) {
      out += c.value();
      continue;
    }
    if (c.type() != pugi::node_element) continue;
    std::string_view n = c.name();
    if (n == "text:s") {
      int count = std::clamp(c.attribute("text:c").as_int(1), 1, 64);
      out.append(static_cast<std::size_t>(count), ' ');
    } else if (n == "text:tab" || n == "text:line-break") {
      out += ' ';
    } else if (n == "text:note" || n == "office:annotation" || n == "text:tracked-changes" || n == "draw:frame" ||
               n == "text:bookmark-ref") {
      continue;
    } else {
      odf_text(c, out, depth + 1);
    }
  }
}

core::status odf_body(const pugi::xml_node& node, block_sink& sink, bool in_list, int depth) {
  if (depth > max_xml_depth) return {};
  for (auto c : node.children()) {
    if (c.type() != pugi::node_element) continue;
    std::string_view n = c.name();
    if (n == "text:h") {
      std::string text;
      odf_text(c, text, depth + 1);
      int level = std::clamp(c.attribute("text:outline-level").as_int(1), 1, 6);
      WATTOS_RETURN_IF_ERROR(sink.add(block_kind::heading, text, 0, level));
    } else if (n == "text:p") {
      std::string text;
      odf_text(c, text, depth + 1);
      WATTOS_RETURN_IF_ERROR(sink.add(in_list ? block_kind::list_item : block_kind::paragraph, text, 0));
    } else if (n == "text:list" || n == "text:list-item" || n == "text:list-header") {
      WATTOS_RETURN_IF_ERROR(odf_body(c, sink, true, depth + 1));
    } else if (n == "table:table-row") {
      std::string row;
      for (auto cell : c.children()) {
        if (std::string_view(cell.name()) != "table:table-cell") continue;
        std::string text;
        odf_text(cell, text, depth + 2);
        text = collapse_whitespace(text);
        if (text.empty()) continue;
        if (!row.empty()) row += " | ";
        row += text;
      }
      WATTOS_RETURN_IF_ERROR(sink.add(block_kind::table_row, row, 0));
    } else if (n == "text:sequence-decls" || n == "office:forms" || n == "text:tracked-changes" ||
               n == "table:table-columns" || n == "table:table-column" || n == "office:annotation") {
      continue;
    } else {
      // text:section, table:table, table:table-header-rows, draw:frame, draw:text-box, ...
      WATTOS_RETURN_IF_ERROR(odf_body(c, sink, in_list, depth + 1));
    }
  }
  return {};
}

core::status parse_odt(zip_reader& zip, block_sink& sink) {
  if (zip.has("meta.xml")) {
    auto meta = load_xml(zip, "meta.xml");
    if (meta.ok()) {
      auto m = child((*meta)->document_element(), "meta");
      std::string title = collapse_whitespace(child(m, "title").text().get());
      if (!title.empty()) sink.doc().title = title;
      std::string author = collapse_whitespace(child(m, "initial-creator").text().get());
      if (author.empty()) author = collapse_whitespace(child(m, "creator").text().get());
      if (!author.empty()) sink.doc().metadata["author"] = author;
      std::string created = child(m, "creation-date").text().get();
      if (created.size() >= 10) sink.doc().date = created.substr(0, 10);
    }
  }
  WATTOS_ASSIGN_OR_RETURN(auto content, load_xml(zip, "content.xml"));
  auto text = child(child(content->document_element(), "body"), "text");
  if (!text) return core::error::invalid_argument("content.xml has no text body");
  return odf_body(text, sink, false, 0);
}

}  // namespace

core::result<std::string> zip_container_format(std::string_view bytes) {
  WATTOS_ASSIGN_OR_RETURN(zip_reader zip, zip_reader::open(bytes, nullptr));
  if (zip.has("mimetype")) {
    auto mime = zip.read("mimetype");
    if (mime.ok() && mime->size() < 256 && collapse_whitespace(*mime) == "application/vnd.oasis.opendocument.text")
      return std::string("odt");
    return std::string();
  }
  if (zip.has("word/document.xml")) return std::string("docx");
  if (zip.has("ppt/presentation.xml")) return std::string("pptx");
  if (zip.has("xl/workbook.xml")) return std::string("xlsx");
  return std::string();
}

core::result<parsed_document> parse_office(std::string_view bytes, const std::string& format,
                                           const parse_limits& limits) {
  WATTOS_ASSIGN_OR_RETURN(zip_reader zip, zip_reader::open(bytes, &limits));
  parsed_document doc;
  block_sink sink(doc, limits);
  if (format == "odt") {
    WATTOS_RETURN_IF_ERROR(parse_odt(zip, sink));
    return doc;
  }
  read_core_properties(zip, doc);
  if (format == "docx")
    WATTOS_RETURN_IF_ERROR(parse_docx(zip, sink));
  else if (format == "pptx")
    WATTOS_RETURN_IF_ERROR(parse_pptx(zip, sink));
  else
    WATTOS_RETURN_IF_ERROR(parse_xlsx(zip, sink));
  return doc;
}

}  // namespace wattos::streams::ingest::detail
