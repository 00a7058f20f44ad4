#include "net/router.hpp"

#include <boost/url/parse.hpp>
#include <gtest/gtest.h>

#include <random>

#include "net/origin_form.hpp"

namespace wattos::net {
namespace {

handler noop() {
  return [](request&) -> boost::asio::awaitable<response> { co_return response::no_content(); };
}

TEST(router, literal_beats_parameter) {
  router r;
  r.add("GET", "/spaces/{id}", noop());
  r.add("GET", "/spaces/new", noop());
  auto m = r.find("GET", "/spaces/new");
  ASSERT_NE(m.matched, nullptr);
  EXPECT_EQ(m.matched->pattern, "/spaces/new");
  auto p = r.find("GET", "/spaces/42");
  ASSERT_NE(p.matched, nullptr);
  EXPECT_EQ(p.matched->pattern, "/spaces/{id}");
  ASSERT_EQ(p.params.size(), 1u);
  EXPECT_EQ(p.params[0].first, "id");
  EXPECT_EQ(p.params[0].second, "42");
}

TEST(router, method_mismatch_lists_allowed) {
  router r;
  r.add("GET", "/a", noop());
  r.add("POST", "/a", noop());
  auto m = r.find("DELETE", "/a");
  EXPECT_EQ(m.matched, nullptr);
  EXPECT_EQ(m.allowed_methods, "GET, POST");
}

TEST(router, head_matches_get) {
  router r;
  r.add("GET", "/a", noop());
  EXPECT_NE(r.find("HEAD", "/a").matched, nullptr);
}

TEST(router, rest_parameter_takes_remaining_path) {
  router r;
  r.add("GET", "/files/{*path}", noop());
  auto m = r.find("GET", "/files/a/b/c.txt");
  ASSERT_NE(m.matched, nullptr);
  EXPECT_EQ(m.params[0].second, "a/b/c.txt");
  auto empty = r.find("GET", "/files/");
  ASSERT_NE(empty.matched, nullptr);
  EXPECT_EQ(empty.params[0].second, "");
}

TEST(router, only_the_chosen_route_gives_parameters) {
  router r;
  r.add("GET", "/c/{conversation}/{*rest}", noop());
  r.add("GET", "/c/{conversation}/messages/{message}", noop());
  r.add("POST", "/c/{other}/messages/{id}", noop());
  auto m = r.find("GET", "/c/7/messages/9");
  ASSERT_NE(m.matched, nullptr);
  EXPECT_EQ(m.matched->pattern, "/c/{conversation}/messages/{message}");
  const std::vector<std::pair<std::string, std::string>> want{{"conversation", "7"}, {"message", "9"}};
  EXPECT_EQ(m.params, want);
  auto rest = r.find("GET", "/c/7/other/x");
  ASSERT_NE(rest.matched, nullptr);
  const std::vector<std::pair<std::string, std::string>> want_rest{{"conversation", "7"}, {"rest", "other/x"}};
  EXPECT_EQ(rest.params, want_rest);
  // The prefix of a {*rest} route alone matches it, with an empty rest.
  auto prefix = r.find("GET", "/c/7");
  ASSERT_NE(prefix.matched, nullptr);
  EXPECT_EQ(prefix.params.back(), std::make_pair(std::string("rest"), std::string()));
}

TEST(router, no_partial_or_extra_segments) {
  router r;
  r.add("GET", "/a/{id}", noop());
  EXPECT_EQ(r.find("GET", "/a").matched, nullptr);
  EXPECT_EQ(r.find("GET", "/a/").matched, nullptr);  // an empty parameter does not match
  EXPECT_EQ(r.find("GET", "/a/1/2").matched, nullptr);
  EXPECT_EQ(r.find("GET", "/b/1").matched, nullptr);
  EXPECT_TRUE(r.find("GET", "/b/1").allowed_methods.empty());
}

TEST(router, websocket_routes_are_separate) {
  router r;
  r.add("GET", "/ws", noop());
  r.add_websocket("/ws", [](request&, websocket_stream&) -> boost::asio::awaitable<void> { co_return; });
  auto ws = r.find("GET", "/ws", true);
  ASSERT_NE(ws.matched, nullptr);
  EXPECT_TRUE(static_cast<bool>(ws.matched->ws_handler));
  auto plain = r.find("GET", "/ws", false);
  ASSERT_NE(plain.matched, nullptr);
  EXPECT_TRUE(static_cast<bool>(plain.matched->http_handler));
}

TEST(sse_format, multiline_data_and_fields) {
  EXPECT_EQ(format_sse_event({"7", "token", "a\nb", std::nullopt}), "id: 7\nevent: token\ndata: a\ndata: b\n\n");
  EXPECT_EQ(format_sse_event({"", "", "", 1500}), "retry: 1500\ndata: \n\n");
  EXPECT_EQ(format_sse_event({"", "", "x\r\ny", std::nullopt}), "data: x\ndata: y\n\n");
  // A line break in the event name must not forge extra fields.
  EXPECT_EQ(format_sse_event({"1\nevent: evil", "", "d", std::nullopt}), "id: 1 event: evil\ndata: d\n\n");
}

// find() looks only at routes that can match (by segment count and last segment): the
// answer must be the one of trying every route in order, as a plain reference does here.
TEST(router, the_index_gives_what_trying_every_route_gives) {
  const std::vector<std::string> segment_choices = {"a", "b", "{x}", "{y}", "{*r}"};
  const std::vector<std::string> methods = {"GET", "POST"};
  std::mt19937 rng(5);
  router r;
  struct reference_route {
    std::string method, pattern;
    std::vector<std::string> segments;
  };
  std::vector<reference_route> reference;
  for (int i = 0; i < 60; ++i) {
    std::vector<std::string> segments;
    const auto length = 1 + rng() % 4;
    for (std::size_t k = 0; k < length; ++k) {
      const std::string& seg = segment_choices[rng() % (k + 1 == length ? 5 : 4)];
      segments.push_back(seg);
    }
    std::string pattern;
    for (const auto& seg : segments) pattern += "/" + seg;
    const std::string& method = methods[rng() % 2];
    r.add(method, pattern, noop());
    reference.push_back({method, pattern, segments});
  }
  auto reference_find = [&](const std::string& method, const std::vector<std::string>& parts) {
    const reference_route* best = nullptr;
    int best_score = -1;
    std::string allowed;
    for (const auto& route : reference) {
      const bool rest = route.segments.back() == "{*r}";
      const std::size_t n = route.segments.size();
      if (rest ? parts.size() + 1 < n : parts.size() != n) continue;
      bool match = true;
      int literals = 0;
      for (std::size_t i = 0; i < n && match; ++i) {
        const auto& seg = route.segments[i];
        if (seg == "{*r}") break;
        if (seg.front() == '{') {
          match = !parts[i].empty();
        } else {
          ++literals;
          match = seg == parts[i];
        }
      }
      if (!match) continue;
      if (route.method != method) {
        if (allowed.find(route.method) == std::string::npos) allowed += (allowed.empty() ? "" : ", ") + route.method;
        continue;
      }
      const int score = literals * 2 + (rest ? 0 : 1);
      if (score > best_score) {
        best_score = score;
        best = &route;
      }
    }
    return std::make_pair(best ? best->pattern + " " + best->method : std::string(), best ? std::string() : allowed);
  };
  const std::vector<std::string> part_choices = {"a", "b", "c", ""};
  for (int i = 0; i < 5000; ++i) {
    std::vector<std::string> parts;
    const auto length = 1 + rng() % 5;
    std::string path;
    for (std::size_t k = 0; k < length; ++k) {
      parts.push_back(part_choices[rng() % 4]);
      path += "/" + parts.back();
    }
    const std::string& method = methods[rng() % 2];
    auto m = r.find(method, path);
    const auto [want_route, want_allowed] = reference_find(method, parts);
    const std::string got_route = m.matched ? m.matched->pattern + " " + m.matched->method : std::string();
    ASSERT_EQ(got_route, want_route) << method << " " << path;
    ASSERT_EQ(m.allowed_methods, want_allowed) << method << " " << path;
  }
}

// The server takes a plain target as its own path without the URL parser: that must give
// what the parser gives, for every target it takes.
TEST(origin_form, a_plain_target_is_what_the_url_parser_makes_of_it) {
  auto agrees_with_parser = [](const std::string& target) {
    if (!is_plain_origin_path(target)) return true;
    auto parsed = boost::urls::parse_origin_form(target);
    return parsed && parsed->path() == target && !parsed->has_query() && parsed->params().empty();
  };
  for (const char* target : {"/", "/json", "/api/v1/spaces/0193-ab/search", "/a:b@c/!$&'()*+,;=-._~", "//x"}) {
    EXPECT_TRUE(is_plain_origin_path(target)) << target;
    EXPECT_TRUE(agrees_with_parser(target)) << target;
  }
  for (const char* target : {"", "json", "/a?b=c", "/a%20b", "/a b", "/a#f", "/\xc3\xa4", "*", "/a[1]", "/a\\b"}) {
    EXPECT_FALSE(is_plain_origin_path(target)) << target;
  }
  // Every byte after a slash, and random targets over all bytes.
  for (int c = 0; c < 256; ++c) {
    const std::string target = std::string("/") + static_cast<char>(c);
    EXPECT_TRUE(agrees_with_parser(target)) << c;
  }
  std::mt19937 rng(7);
  const std::string alphabet = "/abcAZ09-._~!$&'()*+,;=:@%?#[] \"<>\\^`{|}\x7f\x80\xff";
  for (int i = 0; i < 20000; ++i) {
    std::string target = "/";
    const auto length = rng() % 12;
    for (std::size_t k = 0; k < length; ++k) target += alphabet[rng() % alphabet.size()];
    ASSERT_TRUE(agrees_with_parser(target)) << target;
  }
}

}  // namespace
}  // namespace wattos::net
