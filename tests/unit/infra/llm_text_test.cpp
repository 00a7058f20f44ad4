#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "infra/llm/embedder.hpp"
#include "infra/llm/extractive.hpp"
#include "infra/llm/pii.hpp"
#include "infra/llm/text.hpp"

namespace wattos::infra::llm {
namespace {

using strings = std::vector<std::string>;

std::vector<std::string> sentences_of(std::string_view text) {
  std::vector<std::string> out;
  for (const auto& s : split_sentences(text)) out.emplace_back(text.substr(s.begin, s.end - s.begin));
  return out;
}

// --- text -----------------------------------------------------------------------------------

TEST(llm_text, word_tokens_fold_umlauts_accents_and_case) {
  EXPECT_EQ(word_tokens("Die Häuser sind groß"), (strings{"die", "haeuser", "sind", "gross"}));
  EXPECT_EQ(word_tokens("ÄRGER Öl Über Straße"), (strings{"aerger", "oel", "ueber", "strasse"}));
  EXPECT_EQ(word_tokens("Café à la crème, señor garçon!"), (strings{"cafe", "a", "la", "creme", "senor", "garcon"}));
  EXPECT_EQ(word_tokens("Größe: 3x4 m², COVID19 — ok…"), (strings{"groesse", "3x4", "m", "covid19", "ok"}));
  // Other scripts stay as they are.
  EXPECT_EQ(word_tokens("Привет мир"), (strings{"Привет", "мир"}));
  EXPECT_TRUE(word_tokens("  ,.;!? ").empty());
}

TEST(llm_text, stop_words_in_both_languages) {
  for (const char* w : {"der", "die", "und", "ist", "nicht", "fuer", "ueber", "the", "of", "and", "is", "what"}) {
    EXPECT_TRUE(is_stop_word(w)) << w;
  }
  for (const char* w : {"vertrag", "kuendigungsfrist", "house", "contract", "miete"})
    EXPECT_FALSE(is_stop_word(w)) << w;
}

TEST(llm_text, light_stem_strips_longest_suffix_and_keeps_three_characters) {
  EXPECT_EQ(light_stem("houses"), "hous");
  EXPECT_EQ(light_stem("haeusern"), "haeus");
  EXPECT_EQ(light_stem("wohnungen"), "wohn");
  EXPECT_EQ(light_stem("wohnung"), "wohn");
  EXPECT_EQ(light_stem("walking"), "walk");
  EXPECT_EQ(light_stem("walked"), "walk");
  EXPECT_EQ(light_stem("quickly"), "quick");
  EXPECT_EQ(light_stem("mieten"), "miet");
  EXPECT_EQ(light_stem("miete"), "miet");
  EXPECT_EQ(light_stem("mieter"), "miet");
  EXPECT_EQ(light_stem("vertrag"), "vertrag");
  // Too short to lose anything that would leave fewer than three characters.
  EXPECT_EQ(light_stem("ses"), "ses");
  EXPECT_EQ(light_stem("den"), "den");
  EXPECT_EQ(light_stem("ring"), "ring");
}

TEST(llm_text, split_sentences_respects_abbreviations_initials_and_ordinals) {
  EXPECT_EQ(sentences_of("Das ist z.B. ein Test. Er kam am 3. Mai an! Wirklich? Ja."),
            (strings{"Das ist z.B. ein Test.", "Er kam am 3. Mai an!", "Wirklich?", "Ja."}));
  EXPECT_EQ(sentences_of("Siehe Nr. 5 bzw. Dr. Müller, d.h. usw. sind keine Enden. Ende."),
            (strings{"Siehe Nr. 5 bzw. Dr. Müller, d.h. usw. sind keine Enden.", "Ende."}));
  EXPECT_EQ(sentences_of("Use e.g. tea, i.e. a drink. Mr. J. Smith vs. Mrs. Doe met ca. 5 people. Done"),
            (strings{"Use e.g. tea, i.e. a drink.", "Mr. J. Smith vs. Mrs. Doe met ca. 5 people.", "Done"}));
  // Decimal numbers and file names do not end a sentence; a blank line does.
  EXPECT_EQ(sentences_of("Der Wert ist 3.5 in datei.pdf\n\nNeuer Absatz ohne Punkt\n  \n Noch einer."),
            (strings{"Der Wert ist 3.5 in datei.pdf", "Neuer Absatz ohne Punkt", "Noch einer."}));
  EXPECT_EQ(sentences_of("He said \"stop.\" Then he left."), (strings{"He said \"stop.\"", "Then he left."}));
  EXPECT_TRUE(split_sentences("   \n\n  ").empty());
}

TEST(llm_text, split_sentences_spans_are_byte_offsets) {
  const std::string text = "  Größe zählt. Nächster Satz.  ";
  const auto spans = split_sentences(text);
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].begin, 2u);
  EXPECT_EQ(text.substr(spans[0].begin, spans[0].end - spans[0].begin), "Größe zählt.");
  EXPECT_EQ(text.substr(spans[1].begin, spans[1].end - spans[1].begin), "Nächster Satz.");
}

TEST(llm_text, looks_german) {
  EXPECT_TRUE(looks_german("Wie lang ist die Frist?"));
  EXPECT_TRUE(looks_german("Kündigung"));
  EXPECT_FALSE(looks_german("How long is the notice period?"));
  EXPECT_FALSE(looks_german("notice period"));
}

// --- PII --------------------------------------------------------------------------------------

TEST(llm_pii, checksums) {
  EXPECT_TRUE(iban_checksum_ok("DE89370400440532013000"));
  EXPECT_TRUE(iban_checksum_ok("GB82WEST12345698765432"));
  EXPECT_FALSE(iban_checksum_ok("DE88370400440532013000"));
  EXPECT_FALSE(iban_checksum_ok("DE89 3704 0044 0532 0130 00"));
  EXPECT_TRUE(luhn_ok("4111111111111111"));
  EXPECT_TRUE(luhn_ok("5500000000000004"));
  EXPECT_FALSE(luhn_ok("4111111111111112"));
  EXPECT_TRUE(german_tax_id_ok("86095742719"));
  // Check digit computed by hand with ISO 7064 MOD 11,10: 4715263809 -> 9.
  EXPECT_TRUE(german_tax_id_ok("47152638099"));
  EXPECT_FALSE(german_tax_id_ok("47152638098"));
  EXPECT_FALSE(german_tax_id_ok("86095742718"));
  EXPECT_FALSE(german_tax_id_ok("06095742719"));
  EXPECT_FALSE(german_tax_id_ok("8609574271"));
}

TEST(llm_pii, labels) {
  EXPECT_EQ(pii_label(pii_kind::email), "EMAIL");
  EXPECT_EQ(pii_label(pii_kind::phone), "PHONE");
  EXPECT_EQ(pii_label(pii_kind::iban), "IBAN");
  EXPECT_EQ(pii_label(pii_kind::credit_card), "CARD");
  EXPECT_EQ(pii_label(pii_kind::tax_id), "TAXID");
  EXPECT_EQ(pii_label(pii_kind::ip_address), "IP");
}

TEST(llm_pii, header_example) {
  pii_redactor r;
  EXPECT_EQ(r.redact("Mail max@example.de, IBAN DE89 3704 0044 0532 0130 00"), "Mail [EMAIL_1], IBAN [IBAN_1]");
}

TEST(llm_pii, finds_each_kind) {
  pii_redactor r;
  EXPECT_EQ(r.redact("Schreib an max.mustermann+test@mail.example.com."), "Schreib an [EMAIL_1].");
  EXPECT_EQ(r.redact("IBAN: GB82WEST12345698765432 und DE89370400440532013000"), "IBAN: [IBAN_1] und [IBAN_2]");
  EXPECT_EQ(r.redact("Karte 4111111111111111 oder 5500 0000 0000 0004 oder 4111-1111-1111-1111"),
            "Karte [CARD_1] oder [CARD_2] oder [CARD_3]");
  EXPECT_EQ(r.redact("Steuer-ID 86095742719, Partner 47152638099."), "Steuer-ID [TAXID_1], Partner [TAXID_2].");
  EXPECT_EQ(r.redact("Server 192.168.0.1 und 10.0.0.255"), "Server [IP_1] und [IP_2]");
  EXPECT_EQ(r.redact("v6 2001:db8::1, ::1 und fe80:0:0:0:202:b3ff:fe1e:8329 sowie ::ffff:192.0.2.1."),
            "v6 [IP_3], [IP_4] und [IP_5] sowie [IP_6].");
  EXPECT_EQ(r.redact("Ruf an: +49 30 12345678 oder 030 1234567 oder 0171/1234567 oder +49 (0)89 123-4567."),
            "Ruf an: [PHONE_1] oder [PHONE_2] oder [PHONE_3] oder [PHONE_4].");
  EXPECT_EQ(r.redact("Büro (030) 1234567"), "Büro [PHONE_5]");
  EXPECT_EQ(r.redact("Call (212) 555-0123, 212-555-0199 or 415.555.0142; +1 212 555 0100."),
            "Call [PHONE_6], [PHONE_7] or [PHONE_8]; [PHONE_9].");
}

TEST(llm_pii, invalid_checksums_and_non_pii_numbers_are_left_alone) {
  pii_redactor r;
  const std::string untouched[] = {
      "IBAN DE88 3704 0044 0532 0130 00",  // wrong check digits
      "IBAN DE88370400440532013000",
      "Karte 4111111111111112",  // fails Luhn
      "Karte 4111 1111 1111 1112",
      "Karte 5500 0000 0000 0005",
      "Steuer-ID 86095742718",   // wrong check digit
      "Nummer 123456789012",     // 12 digits: no tax id
      "Am 12.03.2024 um 10:30",  // date and time
      "Am 01.03.2024 oder 03-12-2024 oder 01/03/24",
      "Im Jahr 2024 kamen 1500 Leute, 0,5 Liter",
      "Version 1.2.3 und 300.1.1.1 und 01.02.03.04",
      "Die Uhrzeit 12:30:45 ist kein IPv6",
      "Ruf 0 1 2 3 4 5 6 7 an",  // no run of three digits
      "Kurz 0123 45",            // fewer than 7 digits
      "kein@mail und a@b.c",
      "Teil 123-456-7890 und 212-055-0123",                     // area code or exchange starting 0 or 1
      "Los 212-555-01234 und 212-555-0123-7 und 212.555-0123",  // too long, mixed separators
      "Datum 2024-05-12, ISBN 978-3-16-148410-0",
  };
  for (const auto& text : untouched) EXPECT_EQ(r.redact(text), text) << text;
  EXPECT_TRUE(r.replacements().empty());
}

TEST(llm_pii, priority_keeps_iban_card_and_tax_id_out_of_phone) {
  pii_redactor r;
  EXPECT_EQ(r.redact("0532 0130 00 DE89 3704 0044 0532 0130 00"), "[PHONE_1] [IBAN_1]");
  EXPECT_EQ(r.redact("Nummer 5500 0000 0000 0004"), "Nummer [CARD_1]");
  ASSERT_EQ(r.replacements().size(), 3u);
  EXPECT_EQ(r.replacements()[1].kind, pii_kind::iban);
  EXPECT_EQ(r.replacements()[1].original, "DE89 3704 0044 0532 0130 00");
}

TEST(llm_pii, same_original_same_placeholder_and_numbering_per_kind) {
  pii_redactor r;
  EXPECT_EQ(r.redact("a@example.de, b@example.de, a@example.de, 192.168.1.1"),
            "[EMAIL_1], [EMAIL_2], [EMAIL_1], [IP_1]");
  EXPECT_EQ(r.redact("Wieder b@example.de und c@example.de"), "Wieder [EMAIL_2] und [EMAIL_3]");
  EXPECT_EQ(r.replacements().size(), 4u);
}

TEST(llm_pii, restore) {
  pii_redactor r;
  const std::string original = "Mail max@example.de, Tel +49 30 12345678, IBAN DE89 3704 0044 0532 0130 00.";
  const std::string redacted = r.redact(original);
  EXPECT_EQ(redacted, "Mail [EMAIL_1], Tel [PHONE_1], IBAN [IBAN_1].");
  EXPECT_EQ(r.restore(redacted), original);
  EXPECT_EQ(r.restore("[EMAIL_1] [EMAIL_9] [x] [[PHONE_1]]"), "max@example.de [EMAIL_9] [x] [+49 30 12345678]");
}

TEST(llm_pii, streaming_restore_handles_every_split) {
  pii_redactor r;
  r.redact("max@example.de +49 30 12345678");
  const std::string answer = "Schreib [EMAIL_1] oder ruf [PHONE_1] an, nicht [EMAIL_2] oder [x";
  const std::string expected = "Schreib max@example.de oder ruf +49 30 12345678 an, nicht [EMAIL_2] oder [x";
  EXPECT_EQ(r.restore(answer), expected);
  for (std::size_t cut = 0; cut <= answer.size(); ++cut) {
    pii_restorer restorer(r);
    std::string shown = restorer.feed(answer.substr(0, cut));
    shown += restorer.feed(answer.substr(cut));
    shown += restorer.finish();
    EXPECT_EQ(shown, expected) << "cut at " << cut;
  }
  // Two cuts, and one character at a time.
  for (std::size_t a = 0; a <= answer.size(); ++a) {
    for (std::size_t b = a; b <= answer.size(); ++b) {
      pii_restorer restorer(r);
      std::string shown = restorer.feed(answer.substr(0, a));
      shown += restorer.feed(answer.substr(a, b - a));
      shown += restorer.feed(answer.substr(b));
      shown += restorer.finish();
      ASSERT_EQ(shown, expected) << "cuts at " << a << ", " << b;
    }
  }
  pii_restorer restorer(r);
  std::string shown;
  for (char c : answer) shown += restorer.feed(std::string(1, c));
  EXPECT_EQ(shown + restorer.finish(), expected);
}

TEST(llm_pii, streaming_restore_holds_back_only_possible_placeholders) {
  pii_redactor r;
  r.redact("max@example.de");
  pii_restorer restorer(r);
  EXPECT_EQ(restorer.feed("Hallo [EMA"), "Hallo ");
  EXPECT_EQ(restorer.feed("IL_1]!"), "max@example.de!");
  EXPECT_EQ(restorer.feed("Liste [1"), "Liste [1");  // cannot become a placeholder: released
  EXPECT_EQ(restorer.feed(" [EMAIL_"), " ");
  EXPECT_EQ(restorer.finish(), "[EMAIL_");
}

// --- embedder ---------------------------------------------------------------------------------

float norm_of(const std::vector<float>& v) {
  double n = 0;
  for (float x : v) n += static_cast<double>(x) * x;
  return static_cast<float>(std::sqrt(n));
}

TEST(llm_embedder, unit_norm_dimensions_and_zero_vector) {
  hashed_embedder e;
  EXPECT_EQ(e.dimensions(), 384);
  const auto v = e.embed("Wie kündige ich den Mietvertrag?");
  ASSERT_EQ(v.size(), 384u);
  EXPECT_NEAR(norm_of(v), 1.0f, 1e-5);
  EXPECT_NEAR(norm_of(e.embed("Was ist das?")), 1.0f, 1e-5);  // stop words only
  const auto empty = e.embed("  ... !!! ");
  EXPECT_EQ(norm_of(empty), 0.0f);
  EXPECT_EQ(cosine_similarity(empty, v), 0.0f);
  EXPECT_EQ(hashed_embedder(2).dimensions(), 8);
  EXPECT_EQ(hashed_embedder(2).embed("x").size(), 8u);
  EXPECT_EQ(cosine_similarity({1, 0}, {1, 0, 0}), 0.0f);
}

TEST(llm_embedder, deterministic) {
  hashed_embedder a(256);
  hashed_embedder b(256);
  const auto v = a.embed("Die Kündigungsfrist beträgt drei Monate.");
  EXPECT_EQ(v, b.embed("Die Kündigungsfrist beträgt drei Monate."));
  EXPECT_EQ(v, a.embed("Die Kündigungsfrist beträgt drei Monate."));
  EXPECT_NEAR(cosine_similarity(v, v), 1.0f, 1e-5);
}

TEST(llm_embedder, similar_texts_are_closer_than_unrelated_ones) {
  hashed_embedder e;
  const auto q = e.embed("Wie lang ist die Kündigungsfrist für die Wohnung?");
  const auto related = e.embed("Die Kündigungsfrist der Wohnungen beträgt drei Monate.");
  const auto unrelated = e.embed("Das Wetter morgen wird sonnig und warm.");
  EXPECT_GT(cosine_similarity(q, related), cosine_similarity(q, unrelated) + 0.2f);

  const auto en_q = e.embed("How do I reset my password?");
  const auto en_related = e.embed("Passwords can be reset in the settings.");
  const auto en_unrelated = e.embed("The invoice lists three items.");
  EXPECT_GT(cosine_similarity(en_q, en_related), cosine_similarity(en_q, en_unrelated) + 0.2f);
}

TEST(llm_embedder, german_compound_shares_similarity) {
  hashed_embedder e;
  const auto compound = e.embed("Mietvertrag");
  const auto part = e.embed("Vertrag");
  const auto other = e.embed("Kochrezept");
  EXPECT_GT(cosine_similarity(compound, part), 0.03f);
  EXPECT_GT(cosine_similarity(compound, part), cosine_similarity(compound, other) + 0.03f);
  EXPECT_GT(cosine_similarity(e.embed("Der Mietvertrag endet"), e.embed("Der Vertrag endet")),
            cosine_similarity(e.embed("Der Mietvertrag endet"), e.embed("Das Kochrezept endet")));
}

// --- extractive -------------------------------------------------------------------------------

const char* const german_context =
    "Beantworte die Frage nur aus den Quellen.\n"
    "[1] Mietvertrag.pdf, Seite 3: Die Wohnung liegt im zweiten Stock. Die Kündigungsfrist beträgt drei Monate.\n"
    "Die Miete ist monatlich im Voraus zu zahlen.\n"
    "[2] Hausordnung.pdf, Seite 1: Die Ruhezeit beginnt um 22 Uhr. Haustiere sind erlaubt.\n"
    "  [3] Nebenkosten.pdf, S. 2: Die Heizkosten werden jährlich abgerechnet.\n";

const char* const english_context =
    "Answer only from the sources below.\n"
    "[1] Handbook, page 4: New employees get a laptop. The probation period lasts six months.\n"
    "[2] Travel policy, page 2: Train travel is preferred. Hotel costs are reimbursed up to 120 euros per night.\n"
    "[3] IT guide, page 9: Passwords must be changed every 90 days.\n";

TEST(llm_extractive, german_picks_the_right_sentence_with_its_marker) {
  const auto a = extractive_answer_for("Wie lang ist die Kündigungsfrist?", german_context, {});
  EXPECT_TRUE(a.answered);
  EXPECT_EQ(a.text, "Die Kündigungsfrist beträgt drei Monate [1].");
  EXPECT_EQ(a.cited, (std::vector<int>{1}));

  const auto b = extractive_answer_for("Wann werden die Heizkosten abgerechnet?", german_context, {});
  EXPECT_TRUE(b.answered);
  EXPECT_EQ(b.text, "Die Heizkosten werden jährlich abgerechnet [3].");
  EXPECT_EQ(b.cited, (std::vector<int>{3}));

  const auto c = extractive_answer_for("Sind Haustiere in der Wohnung erlaubt?", german_context, {});
  EXPECT_TRUE(c.answered);
  EXPECT_NE(c.text.find("Haustiere sind erlaubt [2]."), std::string::npos) << c.text;
}

TEST(llm_extractive, english_picks_the_right_sentence_with_its_marker) {
  const auto a = extractive_answer_for("How long is the probation period?", english_context, {});
  EXPECT_TRUE(a.answered);
  EXPECT_EQ(a.text, "The probation period lasts six months [1].");
  EXPECT_EQ(a.cited, (std::vector<int>{1}));

  const auto b = extractive_answer_for("How often must passwords be changed?", english_context, {});
  EXPECT_TRUE(b.answered);
  EXPECT_EQ(b.text, "Passwords must be changed every 90 days [3].");

  const auto c = extractive_answer_for("What hotel costs are reimbursed?", english_context, {});
  EXPECT_EQ(c.text, "Hotel costs are reimbursed up to 120 euros per night [2].");
  EXPECT_EQ(c.cited, (std::vector<int>{2}));
}

TEST(llm_extractive, says_no_answer_when_unrelated) {
  const auto de = extractive_answer_for("Wie wird das Wetter morgen?", german_context, {});
  EXPECT_FALSE(de.answered);
  EXPECT_EQ(de.text, "Der bereitgestellte Kontext enthält keine Antwort auf diese Frage.");
  EXPECT_TRUE(de.cited.empty());
  const auto en = extractive_answer_for("Who won the football match?", english_context, {});
  EXPECT_FALSE(en.answered);
  EXPECT_EQ(en.text, "The provided context does not contain an answer to this question.");
}

TEST(llm_extractive, no_sources_message) {
  const auto de = extractive_answer_for("Wie lang ist die Kündigungsfrist?", "Nur Anweisungen, keine Quellen.", {});
  EXPECT_FALSE(de.answered);
  EXPECT_EQ(de.text, "Mir liegen keine Quellen vor, aus denen ich diese Frage beantworten könnte.");
  const auto en = extractive_answer_for("How long is the probation period?", "", {});
  EXPECT_FALSE(en.answered);
  EXPECT_EQ(en.text, "I have no sources from which to answer this question.");
  // A marker that is not at a line start, or out of range, is no source.
  EXPECT_FALSE(extractive_answer_for("What about x?", "see [1] here\n[0] x\n[1000] x", {}).answered);
}

TEST(llm_extractive, max_sentences_and_order_by_source_and_position) {
  const char* context =
      "[2] Die Miete beträgt 800 Euro. Die Miete steigt jährlich.\n"
      "[1] Die Miete wird am Monatsanfang fällig. Die Miete ist per Überweisung zu zahlen.\n"
      "[3] Die Miete darf gemindert werden.\n";
  extractive_options options;
  options.max_sentences = 2;
  const auto a = extractive_answer_for("Was gilt für die Miete?", context, options);
  EXPECT_TRUE(a.answered);
  EXPECT_EQ(std::count(a.text.begin(), a.text.end(), '['), 2) << a.text;
  options.max_sentences = 10;
  const auto all = extractive_answer_for("Was gilt für die Miete?", context, options);
  EXPECT_EQ(all.text,
            "Die Miete beträgt 800 Euro [2]. Die Miete steigt jährlich [2]. Die Miete wird am Monatsanfang fällig [1]. "
            "Die Miete ist per Überweisung zu zahlen [1]. Die Miete darf gemindert werden [3].");
  EXPECT_EQ(all.cited, (std::vector<int>{1, 2, 3}));
  options.max_sentences = 1;
  const auto one = extractive_answer_for("Was gilt für die Miete?", context, options);
  EXPECT_EQ(std::count(one.text.begin(), one.text.end(), '['), 1) << one.text;
  EXPECT_EQ(one.cited.size(), 1u);
}

TEST(llm_extractive, multi_line_source_and_marker_before_final_punctuation) {
  const char* context =
      "[7] Die Frist\n  beginnt mit dem Zugang der Kündigung!\n\n"
      "[8] Note: is the deadline relevant?\n";
  const auto a = extractive_answer_for("Wann beginnt die Frist?", context, {});
  EXPECT_EQ(a.text, "Die Frist beginnt mit dem Zugang der Kündigung [7]!");
  EXPECT_EQ(a.cited, (std::vector<int>{7}));
  // Only a "..., Seite N:" / "..., page N:" location is dropped; other prefixes are content.
  EXPECT_EQ(extractive_answer_for("Is the deadline relevant?", context, {}).text,
            "Note: is the deadline relevant [8]?");
}

}  // namespace
}  // namespace wattos::infra::llm
