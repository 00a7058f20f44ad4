// The gateway's audit middleware in process, against both stores: a state-changing
// request's row, a stream whose first event goes out while its row commits, and what a
// client sees when the row cannot be written (503 for a plain answer, an error event
// that ends a stream).
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include "api/gateway.hpp"
#include "audit_refusal.hpp"
#include "db_backends.hpp"
#include "unit/net/test_client.hpp"

namespace wattos::api {
namespace {

using boost::asio::awaitable;
namespace asio = boost::asio;
namespace nt = net::testing;

class gateway_audit : public infra::db::testing::backend_test {
 protected:
  void SetUp() override {
    backend_test::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_TRUE(infra::db::migrate(db(), "audit", audit_log::migrations()).ok());
    data_dir_ = std::filesystem::temp_directory_path() / ("wattos-gw-" + core::random_hex(6));
    audit_ = std::make_unique<audit_log>(db());
    auto created = identity_service::create(db(), *audit_, {}, data_dir_.string());
    ASSERT_TRUE(created.ok()) << created.err().message();
    identity_ = std::move(created).value();
    limiter_ = infra::make_memory_rate_limiter();
    routes_ = std::make_unique<route_table>(srv_.routes);
    routes_->add("POST", "/api/v1/test/stream", access_rule::open_to_all(),
                 [](net::request&) -> awaitable<net::response> {
                   co_return net::response::event_stream([](net::sse_stream& out) -> awaitable<void> {
                     for (int i = 0; i < 3; ++i) {
                       net::sse_event token{"", "token", "t" + std::to_string(i), std::nullopt};
                       if (!co_await out.send(std::move(token))) co_return;
                     }
                   });
                 });
    routes_->add(
        "POST", "/api/v1/test/plain", access_rule::open_to_all(),
        [](net::request&) -> awaitable<net::response> { co_return net::response::json(201, R"({"created":true})"); });
    gateway_ = std::make_unique<gateway>(*routes_, *identity_, *audit_, *limiter_, core::rate_limit_settings{},
                                         core::cors_settings{});
    srv_.middlewares = {gateway_->authenticate(), gateway_->rate_limit(), gateway_->audit(), gateway_->authorize()};
    srv_.start();
  }

  void TearDown() override {
    srv_.stop();
    gateway_.reset();
    identity_.reset();
    audit_.reset();
    std::filesystem::remove_all(data_dir_);
    backend_test::TearDown();
  }

  void refuse_audit_rows() { ASSERT_TRUE(testing::refuse_audit_rows(db())); }

  std::vector<audit_row> rows_for(const std::string& action) {
    auto rows = audit_->query({.action = action, .limit = 10});
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? *rows : std::vector<audit_row>{};
  }

  static constexpr const char* stream_request =
      "POST /api/v1/test/stream HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n";

  std::filesystem::path data_dir_;
  std::unique_ptr<audit_log> audit_;
  std::unique_ptr<identity_service> identity_;
  std::unique_ptr<infra::rate_limiter> limiter_;
  nt::test_server srv_;
  std::unique_ptr<route_table> routes_;
  std::unique_ptr<gateway> gateway_;
};

TEST_P(gateway_audit, a_plain_change_is_answered_after_its_row_committed) {
  auto r = nt::send_request(srv_.port(), "POST", "/api/v1/test/plain");
  EXPECT_EQ(r.status, 201) << r.body;
  auto rows = rows_for("POST /api/v1/test/plain");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].event.outcome, "201");
  EXPECT_EQ(rows[0].event.actor, "anonymous");
}

TEST_P(gateway_audit, a_change_whose_row_cannot_be_written_is_answered_503) {
  refuse_audit_rows();
  auto r = nt::send_request(srv_.port(), "POST", "/api/v1/test/plain");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find(R"("code":"unavailable")"), std::string::npos) << r.body;
}

// The first event reaches the client while the writer is held (its row still pending);
// the stream ends only after the row committed.
TEST_P(gateway_audit, a_stream_sends_its_first_event_before_its_row_commits) {
  audit_->hold_writer_for_test();
  std::size_t pending_at_first_event = 0;
  auto received = nt::run_client([&](std::uint16_t port) -> awaitable<std::string> {
    auto stream = co_await nt::connect_to(port);
    std::string raw = stream_request;
    co_await asio::async_write(stream, asio::buffer(raw), asio::use_awaitable);
    std::string got;
    co_await nt::read_until_contains(stream, got, "data: t0\n\n");
    pending_at_first_event = audit_->pending_for_test();
    audit_->release_writer_for_test();
    co_return got + co_await nt::read_until_closed(stream);
  }(srv_.port()));
  EXPECT_EQ(pending_at_first_event, 1u);
  EXPECT_NE(received.find("event: token\ndata: t0\n\nevent: token\ndata: t1\n\nevent: token\ndata: t2\n\n"),
            std::string::npos)
      << received;
  EXPECT_EQ(received.find("event: error"), std::string::npos) << received;
  auto rows = rows_for("POST /api/v1/test/stream");  // committed before the stream ended
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].event.outcome, "200");
}

// The row fails after the first event went out: the stream carries an error event
// instead of the rest and ends; the producer's next send is refused.
TEST_P(gateway_audit, a_stream_whose_row_cannot_be_written_ends_with_an_error_event) {
  refuse_audit_rows();
  auto received = nt::exchange_until_closed(srv_.port(), stream_request);
  auto body = received.substr(received.find("\r\n\r\n") + 4);
  EXPECT_EQ(body.find("data: t1"), std::string::npos) << body;
  EXPECT_EQ(body.find("data: t2"), std::string::npos) << body;
  EXPECT_NE(body.find("event: error\ndata: {\"error\":{\"code\":\"unavailable\""), std::string::npos) << body;
  EXPECT_TRUE(rows_for("POST /api/v1/test/stream").empty());
}

INSTANTIATE_TEST_SUITE_P(backends, gateway_audit, ::testing::Values("sqlite", "postgres"),
                         infra::db::testing::backend_name);

}  // namespace
}  // namespace wattos::api
