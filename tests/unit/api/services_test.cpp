// Which service owns which route (api/services.hpp): what `wattos serve --service NAME`
// registers, and the prefixes the gateway forwards to each remote service.
#include "api/services.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "api/proxy.hpp"

namespace wattos::api {
namespace {

TEST(services, every_service_has_its_own_port) {
  std::set<std::uint16_t> ports;
  for (const auto& s : services()) ports.insert(s.port);
  EXPECT_EQ(ports.size(), services().size());
  ASSERT_TRUE(find_service("rag"));
  EXPECT_EQ(find_service("rag")->port, 3007);
  EXPECT_EQ(find_service("gateway")->port, 3001);
  EXPECT_FALSE(find_service("all"));
  EXPECT_FALSE(find_service("ra"));
}

TEST(services, the_longest_whole_segment_prefix_owns_a_route) {
  EXPECT_EQ(owner_of("/healthz"), "kernel");
  EXPECT_EQ(owner_of("/api/v1/version"), "kernel");
  EXPECT_EQ(owner_of("/api/v1/auth/login"), "gateway");
  EXPECT_EQ(owner_of("/api/v1/admin/users/{id}"), "admin");
  EXPECT_EQ(owner_of("/api/v1/admin/models/{id}/residency"), "llm");
  EXPECT_EQ(owner_of("/api/v1/admin/usage"), "llm");
  EXPECT_EQ(owner_of("/api/v1/admin/users/{id}/token-budget"), "llm");
  EXPECT_EQ(owner_of("/api/v1/admin/users/{id}"), "admin");
  EXPECT_EQ(owner_of("/api/v1/admin/ingest/queue"), "ingestion");
  EXPECT_EQ(owner_of("/api/v1/spaces"), "rag");
  EXPECT_EQ(owner_of("/api/v1/spaces/{id}/search"), "rag");
  EXPECT_EQ(owner_of("/api/v1/spaces/{id}/files/{file}/retry"), "ingestion");
  EXPECT_EQ(owner_of("/api/v1/spaces/{id}/watch"), "ingestion");
  EXPECT_EQ(owner_of("/api/v1/chat/ws"), "chat");
  EXPECT_EQ(owner_of("/api/v1/conversations/{id}/messages"), "chat");
  EXPECT_EQ(owner_of("/v1/chat/completions"), "llm");
  EXPECT_EQ(owner_of("/api/v1/personas/{id}/avatar.svg"), "persona");
  // Whole segments only: neither /api/v1/spacesX nor /v10 belongs to anyone.
  EXPECT_EQ(owner_of("/api/v1/spacesX"), "");
  EXPECT_EQ(owner_of("/v10/models"), "");
  EXPECT_EQ(owner_of("/api/v1/unknown"), "");
}

TEST(services, a_lone_service_serves_its_own_routes_and_the_kernel_s) {
  EXPECT_TRUE(serves("rag", "/api/v1/spaces/{id}"));
  EXPECT_TRUE(serves("rag", "/healthz"));
  EXPECT_TRUE(serves("rag", "/metrics"));
  EXPECT_FALSE(serves("rag", "/api/v1/conversations"));
  EXPECT_FALSE(serves("rag", "/api/v1/chat/ws"));
  EXPECT_FALSE(serves("rag", "/api/v1/spaces/{id}/files"));
  EXPECT_FALSE(serves("rag", "/api/v1/auth/login"));
  EXPECT_TRUE(serves("ingestion", "/api/v1/spaces/{id}/files"));
  EXPECT_FALSE(serves("ingestion", "/api/v1/spaces/{id}"));
  EXPECT_FALSE(serves("chat", "/api/v1/unknown"));
  EXPECT_FALSE(serves("admin", "/api/v1/auth/login"));
  EXPECT_TRUE(serves("admin", "/api/v1/admin/audit"));
}

TEST(services, the_gateway_serves_sign_in_and_administration_and_nothing_else) {
  EXPECT_TRUE(serves("gateway", "/api/v1/auth/login"));
  EXPECT_TRUE(serves("gateway", "/api/v1/api-keys"));
  EXPECT_TRUE(serves("gateway", "/api/v1/admin/users"));
  EXPECT_FALSE(serves("gateway", "/api/v1/admin/models"));
  EXPECT_FALSE(serves("gateway", "/api/v1/spaces"));
  EXPECT_FALSE(serves("gateway", "/v1/models"));
}

TEST(services, all_serves_everything) {
  EXPECT_TRUE(serves("all", "/api/v1/spaces"));
  EXPECT_TRUE(serves("all", "/api/v1/unknown"));
}

TEST(services, the_proxy_forwards_what_the_service_owns) {
  core::services_settings s;
  s.ingestion_url = "http://ingest:8001";
  s.llm_url = "http://llm:3011/";
  const auto ups = configured_upstreams(s);
  ASSERT_EQ(ups.size(), 2u);
  const auto& llm = ups[0].service == "llm" ? ups[0] : ups[1];
  const auto& ingestion = ups[0].service == "llm" ? ups[1] : ups[0];
  EXPECT_EQ(llm.base_urls, std::vector<std::string>{"http://llm:3011"});
  auto has = [](const upstream& up, const std::string& prefix) {
    return std::find(up.prefixes.begin(), up.prefixes.end(), prefix) != up.prefixes.end();
  };
  EXPECT_TRUE(has(llm, "/v1"));
  EXPECT_TRUE(has(llm, "/api/v1/admin/models"));
  EXPECT_TRUE(has(ingestion, "/api/v1/spaces/{id}/files"));
  EXPECT_TRUE(has(ingestion, "/api/v1/admin/ingest"));
  EXPECT_FALSE(has(ingestion, "/api/v1/spaces"));
}

}  // namespace
}  // namespace wattos::api
