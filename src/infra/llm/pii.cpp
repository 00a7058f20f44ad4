#include "infra/llm/pii.hpp"

#include <algorithm>
#include <optional>

namespace wattos::infra::llm {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_alnum(char c) {
  return is_digit(c) || is_alpha(c);
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
char to_upper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

// Any byte of a multi-byte UTF-8 sequence counts as a word character, so "Müller0171..."
// is not mistaken for a number that starts at a word boundary.
bool is_word_byte(char c) {
  return is_alnum(c) || (static_cast<unsigned char>(c) & 0x80) != 0;
}

bool word_boundary_before(std::string_view s, std::size_t i) {
  return i == 0 || !is_word_byte(s[i - 1]);
}
bool word_boundary_after(std::string_view s, std::size_t end) {
  return end >= s.size() || !is_word_byte(s[end]);
}

// --- e-mail: local@domain.tld --------------------------------------------------------

bool is_local_char(char c) {
  return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

std::optional<std::size_t> scan_email(std::string_view s, std::size_t i) {
  if (!is_alnum(s[i]) || (i > 0 && (is_local_char(s[i - 1]) || is_word_byte(s[i - 1])))) return std::nullopt;
  std::size_t j = i;
  while (j < s.size() && is_local_char(s[j])) ++j;
  if (j >= s.size() || s[j] != '@' || s[j - 1] == '.') return std::nullopt;
  ++j;
  // Domain labels of letters, digits and inner hyphens; at least two, the last (TLD) 2+ letters.
  std::size_t end = j;
  int labels = 0;
  bool last_alpha = false;
  std::size_t last_len = 0;
  while (true) {
    const std::size_t label_start = end;
    std::size_t k = end;
    while (k < s.size() && (is_alnum(s[k]) || s[k] == '-')) ++k;
    if (k == label_start || s[label_start] == '-' || s[k - 1] == '-') break;
    ++labels;
    last_len = k - label_start;
    last_alpha = std::all_of(s.begin() + static_cast<std::ptrdiff_t>(label_start),
                             s.begin() + static_cast<std::ptrdiff_t>(k), is_alpha);
    end = k;
    if (k + 1 < s.size() && s[k] == '.' && is_alnum(s[k + 1])) {
      end = k + 1;
      continue;
    }
    break;
  }
  if (labels < 2 || !last_alpha || last_len < 2 || !word_boundary_after(s, end)) return std::nullopt;
  return end;
}

// --- IBAN: CC + 2 check digits + 11..30 alphanumerics, optionally in printed groups of 4 ---

std::optional<std::size_t> scan_iban(std::string_view s, std::size_t i) {
  if (i + 15 > s.size() || !word_boundary_before(s, i)) return std::nullopt;
  if (!is_alpha(s[i]) || !is_alpha(s[i + 1]) || !is_digit(s[i + 2]) || !is_digit(s[i + 3])) return std::nullopt;
  std::string compact(s.substr(i, 4));
  std::vector<std::pair<std::size_t, std::size_t>> ends;  // (end offset, compact length) candidates
  std::size_t j = i + 4;
  while (j < s.size() && compact.size() < 34) {
    if (is_alnum(s[j])) {
      compact.push_back(to_upper(s[j]));
      ++j;
    } else if (s[j] == ' ' && compact.size() % 4 == 0 && j + 1 < s.size() && is_alnum(s[j + 1])) {
      // A printed group ends here; the IBAN may also end here.
      ends.emplace_back(j, compact.size());
      ++j;
    } else {
      break;
    }
  }
  ends.emplace_back(j, compact.size());
  // Longest candidate first: "DE89 3704 0044 0532 0130 00 1234" can still end before "1234".
  for (auto it = ends.rbegin(); it != ends.rend(); ++it) {
    const auto [end, len] = *it;
    if (len < 15 || len > 34 || !word_boundary_after(s, end)) continue;
    if (iban_checksum_ok(std::string_view(compact).substr(0, len))) return end;
  }
  return std::nullopt;
}

// --- credit card: 13..19 digits, single spaces or dashes between them, Luhn ---------------

std::optional<std::size_t> scan_card(std::string_view s, std::size_t i) {
  if (!is_digit(s[i]) || !word_boundary_before(s, i) || (i > 0 && s[i - 1] == '+')) return std::nullopt;
  std::string digits;
  std::vector<std::pair<std::size_t, std::size_t>> ends;  // (end offset, digit count)
  std::size_t j = i;
  while (j < s.size() && digits.size() <= 19) {
    if (is_digit(s[j])) {
      digits.push_back(s[j]);
      ++j;
    } else if ((s[j] == ' ' || s[j] == '-') && j + 1 < s.size() && is_digit(s[j + 1])) {
      ends.emplace_back(j, digits.size());
      ++j;
    } else {
      break;
    }
  }
  ends.emplace_back(j, digits.size());
  for (auto it = ends.rbegin(); it != ends.rend(); ++it) {
    const auto [end, count] = *it;
    if (count < 13 || count > 19 || !word_boundary_after(s, end)) continue;
    if (luhn_ok(std::string_view(digits).substr(0, count))) return end;
  }
  return std::nullopt;
}

// --- German tax id: exactly 11 digits -------------------------------------------------------

std::optional<std::size_t> scan_tax_id(std::string_view s, std::size_t i) {
  if (i + 11 > s.size() || !word_boundary_before(s, i)) return std::nullopt;
  for (std::size_t k = i; k < i + 11; ++k) {
    if (!is_digit(s[k])) return std::nullopt;
  }
  if (!word_boundary_after(s, i + 11)) return std::nullopt;
  if (!german_tax_id_ok(s.substr(i, 11))) return std::nullopt;
  return i + 11;
}

// --- IP addresses -----------------------------------------------------------------------------

// Parses a dotted quad at the start of `s`; returns its length.
std::optional<std::size_t> parse_ipv4(std::string_view s) {
  std::size_t j = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (j >= s.size() || s[j] != '.') return std::nullopt;
      ++j;
    }
    const std::size_t start = j;
    int value = 0;
    while (j < s.size() && is_digit(s[j]) && j - start < 3) value = value * 10 + (s[j++] - '0');
    const std::size_t len = j - start;
    // Leading zeros ("01") are rejected: they are typical of dates and versions, not addresses.
    if (len == 0 || value > 255 || (len > 1 && s[start] == '0')) return std::nullopt;
    if (j < s.size() && is_digit(s[j])) return std::nullopt;
  }
  return j;
}

std::optional<std::size_t> scan_ipv4(std::string_view s, std::size_t i) {
  if (!is_digit(s[i]) || !word_boundary_before(s, i) || (i > 0 && s[i - 1] == '.')) return std::nullopt;
  const auto len = parse_ipv4(s.substr(i));
  if (!len) return std::nullopt;
  const std::size_t end = i + *len;
  // "1.2.3.4.5" is something else (a version, an OID).
  if (!word_boundary_after(s, end) || (end + 1 < s.size() && s[end] == '.' && is_digit(s[end + 1]))) {
    return std::nullopt;
  }
  return end;
}

bool valid_ipv6(std::string_view a) {
  int groups = 0;
  bool compressed = false;
  std::size_t j = 0;
  if (a.starts_with("::")) {
    compressed = true;
    j = 2;
    if (j == a.size()) return true;  // "::"
  } else if (a.starts_with(":")) {
    return false;
  }
  while (j < a.size()) {
    // An embedded IPv4 address may close the address ("::ffff:192.0.2.1").
    std::size_t k = j;
    while (k < a.size() && is_hex(a[k])) ++k;
    if (k < a.size() && a[k] == '.') {
      const auto len = parse_ipv4(a.substr(j));
      if (!len || j + *len != a.size()) return false;
      groups += 2;
      j = a.size();
      break;
    }
    if (k == j || k - j > 4) return false;
    ++groups;
    j = k;
    if (j == a.size()) break;
    if (a[j] != ':') return false;
    if (j + 1 < a.size() && a[j + 1] == ':') {
      if (compressed) return false;
      compressed = true;
      j += 2;
      if (j == a.size()) break;
    } else {
      ++j;
      if (j == a.size()) return false;  // trailing single colon
    }
  }
  return compressed ? groups < 8 : groups == 8;
}

std::optional<std::size_t> scan_ipv6(std::string_view s, std::size_t i) {
  if (!(is_hex(s[i]) || s[i] == ':') || (i > 0 && (is_word_byte(s[i - 1]) || s[i - 1] == ':' || s[i - 1] == '.'))) {
    return std::nullopt;
  }
  std::size_t end = i;
  int colons = 0;
  while (end < s.size() && (is_hex(s[end]) || s[end] == ':' || s[end] == '.')) {
    if (s[end] == ':') ++colons;
    ++end;
  }
  if (colons < 2) return std::nullopt;
  // Sentence punctuation after the address: "... ist 2001:db8::1." or "Adresse fe80::1:".
  while (end > i && s[end - 1] == '.') --end;
  if (end - i >= 2 && s[end - 1] == ':' && s[end - 2] != ':') --end;
  if (!word_boundary_after(s, end) || !valid_ipv6(s.substr(i, end - i))) return std::nullopt;
  return end;
}

std::optional<std::size_t> scan_ip(std::string_view s, std::size_t i) {
  if (auto v4 = scan_ipv4(s, i)) return v4;
  return scan_ipv6(s, i);
}

// --- phone numbers ----------------------------------------------------------------------------

bool is_phone_separator(char c) {
  return c == ' ' || c == '/' || c == '-' || c == '(' || c == ')';
}

// A dd.mm.yyyy-like shape written with dashes or slashes ("03-12-2024", "01/03/24").
bool looks_like_date(const std::vector<std::size_t>& groups) {
  return groups.size() == 3 && groups[0] <= 2 && groups[1] <= 2 && (groups[2] == 2 || groups[2] == 4);
}

std::optional<std::size_t> scan_phone(std::string_view s, std::size_t i) {
  const bool international = s[i] == '+';
  // A national number may open with its area code in parentheses: "(030) 1234567".
  const bool parenthesized = s[i] == '(' && i + 1 < s.size() && s[i + 1] == '0';
  if (!international && !parenthesized && s[i] != '0') return std::nullopt;
  if (i > 0 && (is_word_byte(s[i - 1]) || s[i - 1] == '.' || s[i - 1] == ',' || s[i - 1] == '+')) return std::nullopt;
  std::size_t j = international || parenthesized ? i + 1 : i;
  if (j >= s.size() || !is_digit(s[j])) return std::nullopt;
  std::vector<std::size_t> groups;  // lengths of the separator-free digit runs
  std::size_t digits = 0;
  std::size_t end = j;
  while (j < s.size()) {
    const std::size_t run_start = j;
    while (j < s.size() && is_digit(s[j])) ++j;
    groups.push_back(j - run_start);
    digits += j - run_start;
    end = j;
    // Up to three separator characters ("-", " / ", ") ", " (") may join two digit runs.
    std::size_t k = j;
    while (k < s.size() && k - j < 3 && is_phone_separator(s[k])) ++k;
    if (k == j || k >= s.size() || !is_digit(s[k])) break;
    if (std::count(s.begin() + static_cast<std::ptrdiff_t>(j), s.begin() + static_cast<std::ptrdiff_t>(k), ' ') > 2) {
      break;
    }
    j = k;
  }
  // A trailing ")" of "(0)" style groups is never the end; the number ends at its last digit.
  if (digits < 7 || digits > 15 || !word_boundary_after(s, end)) return std::nullopt;
  if (end < s.size() && (s[end] == '.' || s[end] == ',') && end + 1 < s.size() && is_digit(s[end + 1])) {
    return std::nullopt;  // a decimal number or a date continues here
  }
  if (!international) {
    // The tail of a longer grouped number ("DE88 3704 0044 ..." failing its checksum,
    // "5500 0000 0000 0005" failing Luhn) is not a phone number of its own.
    std::size_t p = i;
    if (p >= 2 && (s[p - 1] == ' ' || s[p - 1] == '-') && is_alnum(s[p - 2])) {
      --p;
      while (p > 0 && is_alnum(s[p - 1])) {
        if (is_digit(s[p - 1])) return std::nullopt;
        --p;
      }
    }
    if (std::none_of(groups.begin(), groups.end(), [](std::size_t g) { return g >= 3; })) return std::nullopt;
    if (looks_like_date(groups)) return std::nullopt;
  }
  return end;
}

// A North American number without its "+1": "(212) 555-0123", "212-555-0123",
// "212.555.0123". The shape is strict (3-3-4 digits, one separator kind, area code and
// exchange starting 2-9, as the numbering plan has it) so that part numbers and dates
// stay untouched; "+1 212 555 0123" is an international number above.
std::optional<std::size_t> scan_north_american_phone(std::string_view s, std::size_t i) {
  if (i > 0 && (is_word_byte(s[i - 1]) || s[i - 1] == '.' || s[i - 1] == ',' || s[i - 1] == '+' || s[i - 1] == '-' ||
                s[i - 1] == '/')) {
    return std::nullopt;
  }
  const auto digits_at = [&](std::size_t at, std::size_t n) {
    if (at + n > s.size()) return false;
    for (std::size_t k = at; k < at + n; ++k)
      if (!is_digit(s[k])) return false;
    return s[at] >= '2';  // area codes and exchanges start 2-9; subscriber numbers are checked apart
  };
  std::size_t j = i;
  char separator = 0;
  if (s[j] == '(') {
    if (!digits_at(j + 1, 3) || j + 4 >= s.size() || s[j + 4] != ')') return std::nullopt;
    j += 5;
    if (j < s.size() && s[j] == ' ') ++j;
    separator = '-';  // "(212) 555-0123"
  } else {
    if (!digits_at(j, 3) || j + 3 >= s.size() || (s[j + 3] != '-' && s[j + 3] != '.')) return std::nullopt;
    separator = s[j + 3];
    j += 4;
  }
  if (!digits_at(j, 3) || j + 3 >= s.size() || s[j + 3] != separator) return std::nullopt;
  j += 4;
  if (j + 4 > s.size()) return std::nullopt;
  for (std::size_t k = j; k < j + 4; ++k)
    if (!is_digit(s[k])) return std::nullopt;
  const std::size_t end = j + 4;
  if (!word_boundary_after(s, end)) return std::nullopt;
  if (end + 1 < s.size() && (s[end] == '-' || s[end] == '.' || s[end] == ',') && is_digit(s[end + 1])) {
    return std::nullopt;  // a longer number goes on
  }
  return end;
}

using match = pii_match;

using scanner = std::optional<std::size_t> (*)(std::string_view, std::size_t);

// Runs one scanner over the parts of `s` no earlier (higher-priority) scanner claimed.
void scan_all(std::string_view s, pii_kind kind, scanner scan, std::vector<match>& found) {
  std::sort(found.begin(), found.end(), [](const match& a, const match& b) { return a.begin < b.begin; });
  std::vector<match> added;
  auto next_claimed = found.begin();
  std::size_t i = 0;
  while (i < s.size()) {
    while (next_claimed != found.end() && next_claimed->end <= i) ++next_claimed;
    if (next_claimed != found.end() && next_claimed->begin <= i) {
      i = next_claimed->end;
      continue;
    }
    const auto end = scan(s, i);
    // A candidate that runs into a claimed region is dropped rather than cut.
    if (end && *end > i && (next_claimed == found.end() || *end <= next_claimed->begin)) {
      added.push_back({i, *end, kind});
      i = *end;
    } else {
      ++i;
    }
  }
  found.insert(found.end(), added.begin(), added.end());
}

}  // namespace

std::string_view pii_label(pii_kind kind) noexcept {
  switch (kind) {
    case pii_kind::email:
      return "EMAIL";
    case pii_kind::phone:
      return "PHONE";
    case pii_kind::iban:
      return "IBAN";
    case pii_kind::credit_card:
      return "CARD";
    case pii_kind::tax_id:
      return "TAXID";
    case pii_kind::ip_address:
      return "IP";
  }
  return "PII";
}

bool iban_checksum_ok(std::string_view iban) noexcept {
  if (iban.size() < 15 || iban.size() > 34) return false;
  if (!is_alpha(iban[0]) || !is_alpha(iban[1]) || !is_digit(iban[2]) || !is_digit(iban[3])) return false;
  // Country code and check digits move to the end; letters count as 10..35; the result mod 97 is 1.
  int remainder = 0;
  for (std::size_t k = 0; k < iban.size(); ++k) {
    const char c = to_upper(iban[(k + 4) % iban.size()]);
    if (is_digit(c)) {
      remainder = (remainder * 10 + (c - '0')) % 97;
    } else if (c >= 'A' && c <= 'Z') {
      remainder = (remainder * 100 + (c - 'A' + 10)) % 97;
    } else {
      return false;
    }
  }
  return remainder == 1;
}

bool luhn_ok(std::string_view digits) noexcept {
  if (digits.empty()) return false;
  int sum = 0;
  bool twice = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (!is_digit(*it)) return false;
    int d = *it - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

bool german_tax_id_ok(std::string_view digits) noexcept {
  if (digits.size() != 11 || digits[0] == '0') return false;
  if (!std::all_of(digits.begin(), digits.end(), is_digit)) return false;
  // ISO 7064 MOD 11,10 over the first ten digits gives the eleventh.
  int product = 10;
  for (std::size_t k = 0; k < 10; ++k) {
    int sum = (digits[k] - '0' + product) % 10;
    if (sum == 0) sum = 10;
    product = (sum * 2) % 11;
  }
  int check = 11 - product;
  if (check == 10) check = 0;
  return check == digits[10] - '0';
}

std::string pii_redactor::placeholder_for(pii_kind kind, std::string_view original) {
  int same_kind = 0;
  for (const auto& r : replacements_) {
    if (r.kind != kind) continue;
    if (r.original == original) return r.placeholder;
    ++same_kind;
  }
  std::string placeholder = "[" + std::string(pii_label(kind)) + "_" + std::to_string(same_kind + 1) + "]";
  replacements_.push_back({kind, placeholder, std::string(original)});
  return placeholder;
}

std::vector<pii_match> find_pii(std::string_view text) {
  // Priority order: an IBAN's or card's digits must not be taken for a phone number.
  std::vector<match> found;
  scan_all(text, pii_kind::email, scan_email, found);
  scan_all(text, pii_kind::iban, scan_iban, found);
  scan_all(text, pii_kind::credit_card, scan_card, found);
  scan_all(text, pii_kind::tax_id, scan_tax_id, found);
  scan_all(text, pii_kind::ip_address, scan_ip, found);
  scan_all(text, pii_kind::phone, scan_phone, found);
  scan_all(text, pii_kind::phone, scan_north_american_phone, found);
  std::sort(found.begin(), found.end(), [](const match& a, const match& b) { return a.begin < b.begin; });
  return found;
}

std::string pii_redactor::redact(std::string_view text) {
  const std::vector<match> found = find_pii(text);
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  for (const auto& m : found) {
    out.append(text.substr(pos, m.begin - pos));
    out.append(placeholder_for(m.kind, text.substr(m.begin, m.end - m.begin)));
    pos = m.end;
  }
  out.append(text.substr(pos));
  return out;
}

std::string pii_redactor::restore(std::string_view text) const {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '[') {
      const std::size_t close = text.find(']', i + 1);
      if (close != std::string_view::npos) {
        const std::string_view candidate = text.substr(i, close + 1 - i);
        const auto it = std::find_if(replacements_.begin(), replacements_.end(),
                                     [&](const replacement& r) { return r.placeholder == candidate; });
        if (it != replacements_.end()) {
          out.append(it->original);
          i = close + 1;
          continue;
        }
      }
    }
    out.push_back(text[i]);
    ++i;
  }
  return out;
}

std::string pii_restorer::feed(std::string_view chunk) {
  pending_.append(chunk);
  // Only the text from the last '[' on can still grow into a placeholder; hold it back
  // while it is a proper prefix of a known one.
  std::size_t hold = pending_.size();
  const std::size_t open = pending_.rfind('[');
  if (open != std::string::npos) {
    const std::string_view tail = std::string_view(pending_).substr(open);
    const bool could_complete = std::any_of(
        redactor_.replacements().begin(), redactor_.replacements().end(), [&](const pii_redactor::replacement& r) {
          return r.placeholder.size() > tail.size() && std::string_view(r.placeholder).starts_with(tail);
        });
    if (could_complete) hold = open;
  }
  std::string out = redactor_.restore(std::string_view(pending_).substr(0, hold));
  pending_.erase(0, hold);
  return out;
}

std::string pii_restorer::finish() {
  std::string out = redactor_.restore(pending_);
  pending_.clear();
  return out;
}

}  // namespace wattos::infra::llm
