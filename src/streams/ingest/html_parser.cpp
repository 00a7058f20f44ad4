// HTML with gumbo (an HTML5 parser: entities, unclosed tags and bad nesting as
// browsers handle them).
#include <gumbo.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <memory>

#include "core/utf8.hpp"
#include "streams/ingest/parser_internal.hpp"

namespace wattos::streams::ingest::detail {

namespace {

// Element nesting we accept (an estimate counted before parsing: gumbo builds and frees
// its tree recursively, so a file of a million unclosed <div>s would exhaust the stack).
constexpr int max_html_nesting = 2000;
// Depth the walker follows; content deeper than this is left out.
constexpr int max_walk_depth = 512;

bool is_skipped(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_SCRIPT:
    case GUMBO_TAG_STYLE:
    case GUMBO_TAG_NOSCRIPT:
    case GUMBO_TAG_NAV:
    case GUMBO_TAG_HEADER:
    case GUMBO_TAG_FOOTER:
    case GUMBO_TAG_ASIDE:
    case GUMBO_TAG_FORM:
    case GUMBO_TAG_SVG:
    case GUMBO_TAG_TEMPLATE:
    case GUMBO_TAG_HEAD:
    case GUMBO_TAG_IFRAME:
    case GUMBO_TAG_MATH:
    case GUMBO_TAG_BUTTON:
    case GUMBO_TAG_SELECT:
    case GUMBO_TAG_TEXTAREA:
    case GUMBO_TAG_OBJECT:
    case GUMBO_TAG_CANVAS:
    case GUMBO_TAG_AUDIO:
    case GUMBO_TAG_VIDEO:
      return true;
    default:
      return false;
  }
}

bool is_block(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_P:
    case GUMBO_TAG_DIV:
    case GUMBO_TAG_SECTION:
    case GUMBO_TAG_ARTICLE:
    case GUMBO_TAG_MAIN:
    case GUMBO_TAG_BLOCKQUOTE:
    case GUMBO_TAG_UL:
    case GUMBO_TAG_OL:
    case GUMBO_TAG_DL:
    case GUMBO_TAG_DT:
    case GUMBO_TAG_DD:
    case GUMBO_TAG_FIGURE:
    case GUMBO_TAG_FIGCAPTION:
    case GUMBO_TAG_ADDRESS:
    case GUMBO_TAG_CENTER:
    case GUMBO_TAG_FIELDSET:
    case GUMBO_TAG_DETAILS:
    case GUMBO_TAG_SUMMARY:
    case GUMBO_TAG_HR:
    case GUMBO_TAG_BODY:
    case GUMBO_TAG_HTML:
    case GUMBO_TAG_CAPTION:
    case GUMBO_TAG_LEGEND:
    case GUMBO_TAG_MENU:
      return true;
    default:
      return false;
  }
}

int heading_level(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_H1:
      return 1;
    case GUMBO_TAG_H2:
      return 2;
    case GUMBO_TAG_H3:
      return 3;
    case GUMBO_TAG_H4:
      return 4;
    case GUMBO_TAG_H5:
      return 5;
    case GUMBO_TAG_H6:
      return 6;
    default:
      return 0;
  }
}

bool implicitly_closed(std::string_view name) {
  static constexpr std::string_view names[] = {
      "p",        "li",   "td",  "th",    "tr",       "dt",     "dd",    "option", "thead", "tbody", "tfoot",
      "colgroup", "rb",   "rt",  "rp",    "optgroup", "br",     "img",   "hr",     "input", "meta",  "link",
      "area",     "base", "col", "embed", "param",    "source", "track", "wbr",    "keygen"};
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

// The deepest element nesting the markup asks for, roughly (implicitly closed and void
// elements do not count).
int estimated_nesting(std::string_view html) {
  int depth = 0, deepest = 0;
  // The next '>' at or after a position, found once per stretch: searching from every
  // '<' of "<a<a<a..." would be quadratic.
  std::size_t next_close = 0;
  for (std::size_t i = 0; i + 1 < html.size(); ++i) {
    if (html[i] != '<') continue;
    bool closing = html[i + 1] == '/';
    std::size_t start = i + (closing ? 2 : 1);
    std::size_t end = start;
    while (end < html.size() && end - start < 16 &&
           ((html[end] >= 'a' && html[end] <= 'z') || (html[end] >= 'A' && html[end] <= 'Z') ||
            (html[end] >= '0' && html[end] <= '9')))
      ++end;
    if (end == start) continue;
    std::string name = lower_ascii(html.substr(start, end - start));
    if (implicitly_closed(name)) continue;
    if (next_close != std::string_view::npos && next_close < end) next_close = html.find('>', end);
    std::size_t close = next_close;
    if (!closing && close != std::string_view::npos && close > 0 && html[close - 1] == '/') continue;
    if (closing)
      depth = std::max(0, depth - 1);
    else
      deepest = std::max(deepest, ++depth);
  }
  return deepest;
}

struct gumbo_output_deleter {
  void operator()(GumboOutput* out) const { gumbo_destroy_output(&kGumboDefaultOptions, out); }
};

GumboNode* find_first(GumboNode* node, GumboTag tag, int depth) {
  if (node->type != GUMBO_NODE_ELEMENT && node->type != GUMBO_NODE_TEMPLATE && node->type != GUMBO_NODE_DOCUMENT)
    return nullptr;
  if (depth > max_walk_depth) return nullptr;
  if (node->type != GUMBO_NODE_DOCUMENT && node->v.element.tag == tag) return node;
  const GumboVector& children =
      node->type == GUMBO_NODE_DOCUMENT ? node->v.document.children : node->v.element.children;
  for (unsigned i = 0; i < children.length; ++i) {
    auto* c = static_cast<GumboNode*>(children.data[i]);
    if (c->type == GUMBO_NODE_ELEMENT && tag != GUMBO_TAG_TITLE && is_skipped(c->v.element.tag)) continue;
    if (GumboNode* found = find_first(c, tag, depth + 1)) return found;
  }
  return nullptr;
}

// All text below a node, as one string (line breaks kept for <pre>).
void text_of(GumboNode* node, std::string& out, int depth) {
  if (depth > max_walk_depth) return;
  if (node->type == GUMBO_NODE_TEXT || node->type == GUMBO_NODE_WHITESPACE || node->type == GUMBO_NODE_CDATA) {
    out += node->v.text.text;
    return;
  }
  if (node->type != GUMBO_NODE_ELEMENT) return;
  GumboTag tag = node->v.element.tag;
  if (is_skipped(tag)) return;
  if (tag == GUMBO_TAG_BR) {
    out += '\n';
    return;
  }
  bool spaced =
      is_block(tag) || tag == GUMBO_TAG_TD || tag == GUMBO_TAG_TH || tag == GUMBO_TAG_LI || heading_level(tag) > 0;
  if (spaced) out += ' ';
  const GumboVector& children = node->v.element.children;
  for (unsigned i = 0; i < children.length; ++i) text_of(static_cast<GumboNode*>(children.data[i]), out, depth + 1);
  if (spaced) out += ' ';
}

class html_walker {
 public:
  html_walker(block_sink& sink, int page) : sink_(sink), page_(page) {}

  core::status visit(GumboNode* node, int depth) {
    if (depth > max_walk_depth) return {};
    if (node->type == GUMBO_NODE_TEXT || node->type == GUMBO_NODE_CDATA) {
      buffer_ += node->v.text.text;
      return {};
    }
    if (node->type == GUMBO_NODE_WHITESPACE) {
      buffer_ += ' ';
      return {};
    }
    if (node->type != GUMBO_NODE_ELEMENT) return {};
    GumboTag tag = node->v.element.tag;
    if (is_skipped(tag)) return {};
    if (tag == GUMBO_TAG_BR) {
      buffer_ += ' ';
      return {};
    }
    if (int level = heading_level(tag); level > 0) {
      WATTOS_RETURN_IF_ERROR(flush());
      std::string text;
      text_of(node, text, depth);
      return sink_.add(block_kind::heading, text, page_, level);
    }
    if (tag == GUMBO_TAG_PRE) {
      WATTOS_RETURN_IF_ERROR(flush());
      std::string text;
      text_of(node, text, depth);
      return sink_.add_code(text, page_);
    }
    if (tag == GUMBO_TAG_TABLE) {
      WATTOS_RETURN_IF_ERROR(flush());
      return table(node, depth);
    }
    const GumboVector& children = node->v.element.children;
    if (tag == GUMBO_TAG_LI) {
      WATTOS_RETURN_IF_ERROR(flush());
      block_kind outer = kind_;
      kind_ = block_kind::list_item;
      for (unsigned i = 0; i < children.length; ++i)
        WATTOS_RETURN_IF_ERROR(visit(static_cast<GumboNode*>(children.data[i]), depth + 1));
      WATTOS_RETURN_IF_ERROR(flush());
      kind_ = outer;
      return {};
    }
    bool block = is_block(tag);
    if (block) WATTOS_RETURN_IF_ERROR(flush());
    for (unsigned i = 0; i < children.length; ++i)
      WATTOS_RETURN_IF_ERROR(visit(static_cast<GumboNode*>(children.data[i]), depth + 1));
    if (block) WATTOS_RETURN_IF_ERROR(flush());
    return {};
  }

  core::status flush() {
    core::status s = sink_.add(kind_, buffer_, page_);
    buffer_.clear();
    return s;
  }

 private:
  // Rows of this table (not of tables nested in its cells), cells joined by " | ".
  core::status table(GumboNode* node, int depth) {
    if (depth > max_walk_depth) return {};
    const GumboVector& children = node->v.element.children;
    for (unsigned i = 0; i < children.length; ++i) {
      auto* c = static_cast<GumboNode*>(children.data[i]);
      if (c->type != GUMBO_NODE_ELEMENT) continue;
      GumboTag tag = c->v.element.tag;
      if (tag == GUMBO_TAG_THEAD || tag == GUMBO_TAG_TBODY || tag == GUMBO_TAG_TFOOT) {
        WATTOS_RETURN_IF_ERROR(table(c, depth + 1));
      } else if (tag == GUMBO_TAG_CAPTION) {
        std::string text;
        text_of(c, text, depth + 1);
        WATTOS_RETURN_IF_ERROR(sink_.add(block_kind::paragraph, text, page_));
      } else if (tag == GUMBO_TAG_TR) {
        std::string row;
        const GumboVector& cells = c->v.element.children;
        for (unsigned j = 0; j < cells.length; ++j) {
          auto* cell = static_cast<GumboNode*>(cells.data[j]);
          if (cell->type != GUMBO_NODE_ELEMENT) continue;
          if (cell->v.element.tag != GUMBO_TAG_TD && cell->v.element.tag != GUMBO_TAG_TH) continue;
          std::string text;
          text_of(cell, text, depth + 2);
          text = collapse_whitespace(text);
          if (text.empty()) continue;
          if (!row.empty()) row += " | ";
          row += text;
        }
        WATTOS_RETURN_IF_ERROR(sink_.add(block_kind::table_row, row, page_));
      }
    }
    return {};
  }

  block_sink& sink_;
  int page_;
  std::string buffer_;
  block_kind kind_ = block_kind::paragraph;
};

std::string html_charset(std::string_view html) {
  std::string head = lower_ascii(html.substr(0, 4096));
  std::size_t at = head.find("charset=");
  if (at == std::string::npos) return {};
  at += 8;
  while (at < head.size() && (head[at] == '"' || head[at] == '\'' || head[at] == ' ')) ++at;
  std::size_t end = at;
  while (end < head.size() &&
         (std::isalnum(static_cast<unsigned char>(head[end])) != 0 || head[end] == '-' || head[end] == '_'))
    ++end;
  return head.substr(at, end - at);
}

}  // namespace

core::status html_to_blocks(std::string_view html, block_sink& sink, int page, std::string* title) {
  if (estimated_nesting(html) > max_html_nesting)
    return core::error::invalid_argument("the HTML is nested more than " + std::to_string(max_html_nesting) +
                                         " elements deep");
  if (html.size() > std::numeric_limits<unsigned int>::max() / 2)
    return core::error::payload_too_large("the HTML is too large");
  std::unique_ptr<GumboOutput, gumbo_output_deleter> out(
      gumbo_parse_with_options(&kGumboDefaultOptions, html.data(), html.size()));
  if (!out) return core::error::invalid_argument("the HTML could not be parsed");
  if (title != nullptr) {
    if (GumboNode* t = find_first(out->document, GUMBO_TAG_TITLE, 0)) {
      std::string text;
      const GumboVector& children = t->v.element.children;
      for (unsigned i = 0; i < children.length; ++i) text_of(static_cast<GumboNode*>(children.data[i]), text, 1);
      *title = collapse_whitespace(text);
    }
  }
  // Boilerplate (menus, sidebars) stays out when the page marks its main content.
  GumboNode* root = find_first(out->root, GUMBO_TAG_MAIN, 0);
  if (root == nullptr) root = find_first(out->root, GUMBO_TAG_ARTICLE, 0);
  if (root == nullptr) root = out->root;
  html_walker walker(sink, page);
  WATTOS_RETURN_IF_ERROR(walker.visit(root, 0));
  return walker.flush();
}

core::result<parsed_document> parse_html(std::string_view bytes, const parse_limits& limits) {
  std::string html = core::is_valid_utf8(bytes) ? std::string(bytes) : charset_to_utf8(bytes, html_charset(bytes));
  parsed_document doc;
  block_sink sink(doc, limits);
  std::string title;
  WATTOS_RETURN_IF_ERROR(html_to_blocks(html, sink, 0, &title));
  if (!title.empty()) doc.title = title;
  return doc;
}

}  // namespace wattos::streams::ingest::detail
