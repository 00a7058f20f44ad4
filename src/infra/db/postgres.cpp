// The PostgreSQL backend on libpq: parameters are sent separately from the SQL text
// (PQexecParams), never spliced into it.
#include <libpq-fe.h>

#include <cstdio>
#include <cstring>

#include "infra/db/database.hpp"

namespace wattos::infra::db {
namespace {

// Type OIDs from pg_type.h (stable across releases).
constexpr Oid bool_oid = 16;
constexpr Oid bytea_oid = 17;
constexpr Oid int8_oid = 20;
constexpr Oid int2_oid = 21;
constexpr Oid int4_oid = 23;
constexpr Oid oid_oid = 26;
constexpr Oid float4_oid = 700;
constexpr Oid float8_oid = 701;
constexpr Oid numeric_oid = 1700;

core::error postgres_error(PGconn* conn, const PGresult* res, std::string_view what) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = std::string(what) + ": ";
  const char* detail = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
  message += (detail && *detail) ? detail : PQerrorMessage(conn);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  std::string_view code = state ? state : "";
  if (code == "23505") return core::error::already_exists(std::move(message));
  if (code.starts_with("23")) return core::error::conflict(std::move(message));
  if (code == "40001" || code == "40P01") return core::error::conflict(std::move(message));
  if (code == "57014") return core::error::cancelled(std::move(message));
  if (code.starts_with("08") || code.starts_with("57P") || code.starts_with("53") || PQstatus(conn) != CONNECTION_OK) {
    return core::error::unavailable(std::move(message));
  }
  if (code == "22P02" || code == "22003" || code == "22021") return core::error::invalid_argument(std::move(message));
  return core::error::internal(std::move(message));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 0;
}

value convert(const PGresult* res, int row_index, int column) {
  if (PQgetisnull(res, row_index, column)) return std::monostate{};
  const char* text = PQgetvalue(res, row_index, column);
  const auto length = static_cast<std::size_t>(PQgetlength(res, row_index, column));
  switch (PQftype(res, column)) {
    case int2_oid:
    case int4_oid:
    case int8_oid:
    case oid_oid:
      return static_cast<std::int64_t>(std::strtoll(text, nullptr, 10));
    case bool_oid:
      return static_cast<std::int64_t>(text[0] == 't' ? 1 : 0);
    case float4_oid:
    case float8_oid:
    case numeric_oid:
      return std::strtod(text, nullptr);
    case bytea_oid: {
      // Text output of bytea is hex: \x0a1b...
      blob b;
      if (length >= 2 && text[0] == '\\' && text[1] == 'x') {
        b.bytes.reserve((length - 2) / 2);
        for (std::size_t i = 2; i + 1 < length; i += 2) {
          b.bytes.push_back(static_cast<std::uint8_t>((hex_value(text[i]) << 4) | hex_value(text[i + 1])));
        }
      }
      return b;
    }
    default:
      return std::string(text, length);
  }
}

class postgres_connection final : public connection {
 public:
  explicit postgres_connection(PGconn* conn) : conn_(conn) {}
  ~postgres_connection() override { PQfinish(conn_); }

  core::result<query_result> execute(std::string_view sql, const std::vector<value>& params) override {
    auto [text, placeholders] = to_postgres_placeholders(sql);
    if (placeholders != static_cast<int>(params.size())) {
      return core::error::invalid_argument("statement has " + std::to_string(placeholders) + " parameters, " +
                                           std::to_string(params.size()) + " given");
    }
    std::vector<std::string> storage(params.size());
    std::vector<const char*> values(params.size(), nullptr);
    std::vector<int> lengths(params.size(), 0);
    std::vector<int> formats(params.size(), 0);
    std::vector<Oid> types(params.size(), 0);
    for (std::size_t i = 0; i < params.size(); ++i) {
      const value& v = params[i];
      switch (v.index()) {
        case 0:
          break;
        case 1:
          storage[i] = std::to_string(std::get<std::int64_t>(v));
          types[i] = int8_oid;
          break;
        case 2: {
          char buf[40];
          std::snprintf(buf, sizeof buf, "%.17g", std::get<double>(v));
          storage[i] = buf;
          types[i] = float8_oid;
          break;
        }
        case 3:
          storage[i] = std::get<std::string>(v);
          break;
        default: {
          const auto& b = std::get<blob>(v).bytes;
          storage[i].assign(reinterpret_cast<const char*>(b.data()), b.size());
          formats[i] = 1;  // binary: bytes as they are
          types[i] = bytea_oid;
          break;
        }
      }
      if (v.index() != 0) {
        values[i] = storage[i].data();
        lengths[i] = static_cast<int>(storage[i].size());
      }
    }
    PGresult* res = PQexecParams(conn_, text.c_str(), static_cast<int>(params.size()), types.data(), values.data(),
                                 lengths.data(), formats.data(), 0);
    std::unique_ptr<PGresult, decltype(&PQclear)> guard(res, &PQclear);
    const auto status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return postgres_error(conn_, res, "query");
    query_result result;
    const int columns = PQnfields(res);
    for (int c = 0; c < columns; ++c) result.columns.emplace_back(PQfname(res, c));
    auto names = std::make_shared<const std::vector<std::string>>(result.columns);
    const int rows = PQntuples(res);
    result.rows.reserve(static_cast<std::size_t>(rows));
    for (int r = 0; r < rows; ++r) {
      std::vector<value> row_values;
      row_values.reserve(static_cast<std::size_t>(columns));
      for (int c = 0; c < columns; ++c) row_values.push_back(convert(res, r, c));
      result.rows.emplace_back(names, std::move(row_values));
    }
    const char* affected = PQcmdTuples(res);
    result.rows_affected = (affected && *affected) ? std::strtoll(affected, nullptr, 10) : 0;
    return result;
  }

  core::status execute_script(std::string_view sql) override {
    std::string text(sql);
    PGresult* res = PQexec(conn_, text.c_str());
    std::unique_ptr<PGresult, decltype(&PQclear)> guard(res, &PQclear);
    const auto status = PQresultStatus(res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return postgres_error(conn_, res, "script");
    return {};
  }

  dialect kind() const noexcept override { return dialect::postgres; }
  bool healthy() const noexcept override { return PQstatus(conn_) == CONNECTION_OK; }

 private:
  PGconn* conn_;
};

}  // namespace

core::result<std::unique_ptr<connection>> open_postgres(const core::database_settings& settings) {
  PGconn* conn = PQconnectdb(settings.postgres_url.c_str());
  if (!conn) return core::error::unavailable("out of memory opening a PostgreSQL connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    PQfinish(conn);
    return core::error::unavailable("cannot connect to PostgreSQL at " +
                                    core::redact_url_password(settings.postgres_url) + ": " + message);
  }
  auto result = std::make_unique<postgres_connection>(conn);
  WATTOS_RETURN_IF_ERROR(result->execute_script("SET client_min_messages = warning"));
  return std::unique_ptr<connection>(std::move(result));
}

}  // namespace wattos::infra::db
