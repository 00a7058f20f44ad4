#include "streams/rag/evaluation.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

namespace wattos::streams::rag {
namespace {

core::result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::error::not_found("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The AllenAI CSV prints each abstract as a numpy array of sentences:
// ['First.' 'Second, with "quotes".' "It's third."]
std::string numpy_sentences(std::string_view field) {
  std::string out;
  std::size_t i = 0;
  while (i < field.size()) {
    const char q = field[i];
    if (q != '\'' && q != '"') {
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    std::string sentence;
    while (j < field.size() && field[j] != q) {
      if (field[j] == '\\' && j + 1 < field.size()) ++j;
      sentence += field[j++];
    }
    if (!out.empty()) out += ' ';
    out += sentence;
    i = j + 1;
  }
  return out;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) out.push_back(std::move(line));
  }
  return out;
}

std::string json_text(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return {};
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_int64()) return std::to_string(v->get_int64());
  return {};
}

int column(const std::vector<std::string>& header, std::string_view name) {
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

std::vector<std::vector<std::string>> parse_csv(std::string_view text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false;
  bool any = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field += c;
      }
      continue;
    }
    if (c == '"') {
      quoted = true;
      any = true;
    } else if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || !field.empty()) {
        record.push_back(std::move(field));
        records.push_back(std::move(record));
      }
      field.clear();
      record.clear();
      any = false;
    } else {
      field += c;
      any = true;
    }
  }
  if (any || !field.empty()) {
    record.push_back(std::move(field));
    records.push_back(std::move(record));
  }
  return records;
}

core::result<std::vector<eval_document>> read_corpus(const std::filesystem::path& path) {
  WATTOS_ASSIGN_OR_RETURN(auto text, read_file(path));
  std::vector<eval_document> out;
  if (path.extension() == ".jsonl") {
    for (const auto& line : lines_of(text)) {
      boost::system::error_code ec;
      auto v = boost::json::parse(line, ec);
      if (ec || !v.is_object()) return core::error::invalid_argument(path.string() + ": a line is not a JSON object");
      out.push_back(
          {json_text(v.get_object(), "_id"), json_text(v.get_object(), "title"), json_text(v.get_object(), "text")});
    }
    return out;
  }
  auto records = parse_csv(text);
  if (records.empty()) return core::error::invalid_argument(path.string() + ": empty");
  const int id = column(records[0], "doc_id");
  const int title = column(records[0], "title");
  const int abstract = column(records[0], "abstract");
  if (id < 0 || abstract < 0)
    return core::error::invalid_argument(path.string() + ": needs doc_id and abstract columns");
  for (std::size_t r = 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    if (rec.size() <= static_cast<std::size_t>(std::max({id, title, abstract}))) continue;
    const std::string& body = rec[static_cast<std::size_t>(abstract)];
    out.push_back({rec[static_cast<std::size_t>(id)], title >= 0 ? rec[static_cast<std::size_t>(title)] : "",
                   body.starts_with("[") ? numpy_sentences(body) : body});
  }
  return out;
}

core::result<std::vector<eval_query>> read_queries(const std::filesystem::path& path) {
  WATTOS_ASSIGN_OR_RETURN(auto text, read_file(path));
  std::vector<eval_query> out;
  std::set<std::string> seen;
  if (path.extension() == ".jsonl") {
    for (const auto& line : lines_of(text)) {
      boost::system::error_code ec;
      auto v = boost::json::parse(line, ec);
      if (ec || !v.is_object()) return core::error::invalid_argument(path.string() + ": a line is not a JSON object");
      eval_query q{json_text(v.get_object(), "_id"), json_text(v.get_object(), "text")};
      if (seen.insert(q.id).second) out.push_back(std::move(q));
    }
    return out;
  }
  auto records = parse_csv(text);
  if (records.empty()) return core::error::invalid_argument(path.string() + ": empty");
  const int id = column(records[0], "id");
  const int claim = column(records[0], "claim");
  if (id < 0 || claim < 0) return core::error::invalid_argument(path.string() + ": needs id and claim columns");
  for (std::size_t r = 1; r < records.size(); ++r) {
    const auto& rec = records[r];
    if (rec.size() <= static_cast<std::size_t>(std::max(id, claim))) continue;
    eval_query q{rec[static_cast<std::size_t>(id)], rec[static_cast<std::size_t>(claim)]};
    if (seen.insert(q.id).second) out.push_back(std::move(q));
  }
  return out;
}

core::result<qrels> read_qrels(const std::filesystem::path& path) {
  WATTOS_ASSIGN_OR_RETURN(auto text, read_file(path));
  qrels out;
  bool header = true;
  for (const auto& line : lines_of(text)) {
    if (header) {
      header = false;
      if (line.find("query") != std::string::npos) continue;
    }
    std::istringstream fields(line);
    std::string q, d;
    double score = 0;
    if (!(fields >> q >> d >> score)) return core::error::invalid_argument(path.string() + ": bad line '" + line + "'");
    if (score > 0) out[q].insert(d);
  }
  return out;
}

query_scores score_ranking(const std::vector<std::string>& ranked, const std::set<std::string>& relevant) {
  query_scores s;
  if (relevant.empty()) return s;
  double dcg = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(10, ranked.size()); ++i) {
    if (relevant.count(ranked[i]) != 0) {
      dcg += 1.0 / std::log2(static_cast<double>(i) + 2.0);
      if (s.mrr_at_10 == 0) s.mrr_at_10 = 1.0 / static_cast<double>(i + 1);
    }
  }
  double ideal = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(10, relevant.size()); ++i) {
    ideal += 1.0 / std::log2(static_cast<double>(i) + 2.0);
  }
  s.ndcg_at_10 = dcg / ideal;
  std::size_t found = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(100, ranked.size()); ++i) found += relevant.count(ranked[i]);
  s.recall_at_100 = static_cast<double>(found) / static_cast<double>(relevant.size());
  return s;
}

}  // namespace wattos::streams::rag
