// File: infra/llm/pii.hpp
//
// PII redaction before text leaves for an external model provider, and restoration
// of the placeholders in the answer. Found: e-mail addresses, phone numbers
// (international +49 ... or national 0... with at least 7 digits), IBANs (mod-97
// checksum verified), credit card numbers (13-19 digits, Luhn verified), German tax
// ids (Steuer-IdNr, 11 digits, ISO 7064 check digit verified) and IP addresses (v4
// and v6). A match becomes a placeholder such as `[EMAIL_1]`; the same original text
// always gets the same placeholder within one redactor, so a conversation stays
// coherent. Numbers that fail their checksum are left alone (fewer false positives).
//
// Example:
//   llm::pii_redactor redactor;
//   std::string outbound = redactor.redact("Mail max@example.de, IBAN DE89 3704 0044 0532 0130 00");
//   // "Mail [EMAIL_1], IBAN [IBAN_1]"
//   llm::pii_restorer restore(redactor);
//   std::string shown = restore.feed(chunk) ... + restore.finish();
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wattos::infra::llm {

enum class pii_kind { email, phone, iban, credit_card, tax_id, ip_address };

// "EMAIL", "PHONE", "IBAN", "CARD", "TAXID", "IP": the placeholder's label.
std::string_view pii_label(pii_kind kind) noexcept;

// One piece of personal data in a text: bytes [begin, end).
struct pii_match {
  std::size_t begin = 0;
  std::size_t end = 0;
  pii_kind kind = pii_kind::email;
};

// Every match in `text`, in order, none overlapping (what pii_redactor::redact replaces).
std::vector<pii_match> find_pii(std::string_view text);

class pii_redactor {
 public:
  struct replacement {
    pii_kind kind;
    std::string placeholder;  // "[EMAIL_1]"
    std::string original;
  };

  // Replaces every PII match in `text` with its placeholder.
  std::string redact(std::string_view text);
  // Replaces known placeholders in `text` with their originals; unknown ones stay.
  std::string restore(std::string_view text) const;

  const std::vector<replacement>& replacements() const noexcept { return replacements_; }

 private:
  std::string placeholder_for(pii_kind kind, std::string_view original);
  std::vector<replacement> replacements_;
};

// Restores placeholders in a streamed answer whose chunks may split a placeholder
// ("[EMA" + "IL_1]"): text that could still become a placeholder is held back
// until it is complete or cannot be one.
class pii_restorer {
 public:
  explicit pii_restorer(const pii_redactor& redactor) : redactor_(redactor) {}
  std::string feed(std::string_view chunk);
  std::string finish();

 private:
  const pii_redactor& redactor_;
  std::string pending_;
};

// Checks, exposed for tests.
bool iban_checksum_ok(std::string_view iban_without_spaces) noexcept;
bool luhn_ok(std::string_view digits) noexcept;
bool german_tax_id_ok(std::string_view digits) noexcept;

}  // namespace wattos::infra::llm
