// The common case of a request target, recognised without a URL parser.
#pragma once

#include <string_view>

namespace wattos::net {

// True when `target` is an origin-form target with a path only, made of characters that
// stand for themselves: "/" followed by unreserved characters, sub-delimiters, ":", "@"
// and "/" (RFC 3986 pchar without percent-encoding; no query). Such a target is its own
// decoded path, so the server skips the URL parser for it; any other target (a query, a
// percent sign, anything else) still goes through boost::urls::parse_origin_form.
bool is_plain_origin_path(std::string_view target) noexcept;

}  // namespace wattos::net
