#include "core/error.hpp"

namespace wattos::core {

std::string_view errc_name(errc code) noexcept {
  switch (code) {
    case errc::ok:
      return "ok";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::unauthenticated:
      return "unauthenticated";
    case errc::permission_denied:
      return "permission_denied";
    case errc::not_found:
      return "not_found";
    case errc::already_exists:
      return "already_exists";
    case errc::conflict:
      return "conflict";
    case errc::failed_precondition:
      return "failed_precondition";
    case errc::payload_too_large:
      return "payload_too_large";
    case errc::unsupported_media:
      return "unsupported_media_type";
    case errc::rate_limited:
      return "rate_limited";
    case errc::resource_exhausted:
      return "resource_exhausted";
    case errc::request_timeout:
      return "request_timeout";
    case errc::cancelled:
      return "cancelled";
    case errc::deadline_exceeded:
      return "deadline_exceeded";
    case errc::unavailable:
      return "unavailable";
    case errc::bad_gateway:
      return "bad_gateway";
    case errc::unimplemented:
      return "unimplemented";
    case errc::internal:
      return "internal";
  }
  return "internal";
}

}  // namespace wattos::core
