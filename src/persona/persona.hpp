// File: persona/persona.hpp
//
// The character layer (layer 3): personas with a name, role, description, Big Five
// traits (0-100), tone, humour, verbosity, language (de/en) and form of address
// (du/Sie), rules, greeting, default model and spaces, voice settings and an avatar.
// A deterministic prompt generator turns a persona into its system prompt (previewable,
// German or English); a template generator drafts a persona from a short description.
// KAYA is the built-in default character (id "kaya"); it cannot be changed or deleted.
//
// Personas are shared within the organisation: everyone signed in may read them and
// chat with them; creating and changing needs personas:write (checked by the API), and
// only the creator or an admin may change or delete one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "infra/db/database.hpp"
#include "infra/db/migrations.hpp"
#include "persona/avatar_image.hpp"

namespace wattos::persona {

struct big_five {
  int openness = 50;
  int conscientiousness = 50;
  int extraversion = 50;
  int agreeableness = 50;
  int neuroticism = 50;
};

struct voice_settings {
  std::string engine = "espeak-ng";
  std::string voice = "de";
  double rate = 1.0;   // 0.5 - 2.0
  double pitch = 1.0;  // 0.5 - 2.0
};

struct character {
  std::string id;
  std::string owner_id;  // empty for the built-in KAYA
  std::string name;
  std::string role;
  std::string description;
  big_five traits;
  std::string tone = "warm";         // warm, neutral, formal, playful
  int humour = 30;                   // 0-100
  std::string verbosity = "medium";  // short, medium, long
  std::string language = "de";       // de, en
  std::string address = "Sie";       // du, Sie (German only)
  std::vector<std::string> rules;
  std::string greeting;
  std::string default_model;
  std::vector<std::string> default_spaces;
  voice_settings voice;
  // Set by the store when an image was uploaded (its content hash); empty: the
  // generated SVG is the avatar. Ignored in what clients send.
  std::string avatar_etag;
  bool builtin = false;
  std::string created_at;
  std::string updated_at;
};

// Checks every field's range and size; invalid_argument naming the field.
core::status validate(const character& c);

// The system prompt of a persona: deterministic, in the persona's language.
std::string system_prompt(const character& c);

// A persona drafted from a short description by keyword templates (German and English
// words for patience, humour, brevity, formality, ...); not stored.
character draft_from_description(std::string_view description, std::string_view language);

// An SVG avatar: the initials on a circle whose colour comes from the name.
std::string avatar_svg(const character& c);

// JSON form of a character, and back (for storage and the API).
std::string to_json(const character& c);
core::result<character> from_json(std::string_view json_text);

// The built-in default character.
const character& kaya();

class persona_store {
 public:
  static const std::vector<infra::db::migration>& migrations();
  explicit persona_store(infra::db::database& db) : db_(db) {}

  core::result<std::vector<character>> list();
  core::result<character> get(std::string_view id_or_name);
  core::result<character> create(const std::string& owner_id, character c);
  // Only the creator or an admin; KAYA is read-only.
  core::result<character> update(const std::string& user_id, bool admin, std::string_view id, character c);
  core::status remove(const std::string& user_id, bool admin, std::string_view id);

  // The persona when the user may change it (`what`: "change" or "delete", for the
  // message): permission_denied for KAYA and for others' personas unless admin.
  core::result<character> editable(const std::string& user_id, bool admin, std::string_view id,
                                   std::string_view what = "change");

  // Uploaded avatars (normalised by normalise_avatar): set and removed by the creator or
  // an admin; KAYA's cannot be changed. The persona's avatar_etag follows.
  core::result<character> set_avatar(const std::string& user_id, bool admin, std::string_view id,
                                     const avatar_image& image);
  // An upload as it came: the owner check first (a stranger's upload is not even
  // decoded), then normalise_avatar, then set_avatar's write.
  core::result<character> upload_avatar(const std::string& user_id, bool admin, std::string_view id,
                                        std::string_view upload, const avatar_limits& limits);
  core::result<character> remove_avatar(const std::string& user_id, bool admin, std::string_view id);
  struct stored_avatar {
    std::string png;
    std::string etag;
  };
  // not_found when the persona has no uploaded image.
  core::result<stored_avatar> avatar(std::string_view id);
  // The uploaded image of a persona already read (by its avatar_etag, the caller knows
  // there is one): not_found if it went meanwhile.
  core::result<std::string> avatar_png(const character& c);

 private:
  // Stores or deletes (png null) the image and the persona row, in one transaction; sets
  // c's avatar_etag (from the image, or empty) and updated_at first.
  core::status write_avatar(character& c, const std::string* png);
  infra::db::database& db_;
};

}  // namespace wattos::persona
