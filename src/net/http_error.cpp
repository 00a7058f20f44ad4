#include "net/http_error.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "core/utf8.hpp"

namespace wattos::net {

int http_status(core::errc code) noexcept {
  using core::errc;
  switch (code) {
    case errc::ok:
      return 200;
    case errc::invalid_argument:
      return 400;
    case errc::unauthenticated:
      return 401;
    case errc::permission_denied:
      return 403;
    case errc::not_found:
      return 404;
    case errc::already_exists:
    case errc::conflict:
      return 409;
    case errc::failed_precondition:
      return 412;
    case errc::payload_too_large:
      return 413;
    case errc::unsupported_media:
      return 415;
    case errc::rate_limited:
    case errc::resource_exhausted:
      return 429;
    case errc::request_timeout:
      return 408;
    case errc::cancelled:
      return 499;
    case errc::deadline_exceeded:
      return 504;
    case errc::unavailable:
      return 503;
    case errc::bad_gateway:
      return 502;
    case errc::unimplemented:
      return 501;
    case errc::internal:
      return 500;
  }
  return 500;
}

response error_response(int status, std::string_view code, std::string_view message, std::string_view request_id) {
  boost::json::object inner;
  inner["code"] = code;
  inner["message"] = core::to_valid_utf8(message);
  if (!request_id.empty()) inner["request_id"] = request_id;
  boost::json::object outer;
  outer["error"] = std::move(inner);
  return response::json(status, boost::json::serialize(outer));
}

response error_response(const core::error& err, std::string_view request_id) {
  return error_response(http_status(err.code()), core::errc_name(err.code()), err.message(), request_id);
}

}  // namespace wattos::net
