// The persona store: characters as JSON rows, uploaded avatars beside them.
#include "core/clock.hpp"
#include "core/crypto.hpp"
#include "core/id.hpp"
#include "persona/persona.hpp"

namespace wattos::persona {

namespace db = infra::db;

const std::vector<db::migration>& persona_store::migrations() {
  static const std::vector<db::migration> list = {
      {1, "characters",
       "CREATE TABLE persona_characters (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL, name TEXT NOT NULL UNIQUE,"
       " data TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
       ""},
      {2, "avatars",
       "CREATE TABLE persona_avatars (persona_id TEXT PRIMARY KEY, image BLOB NOT NULL, etag TEXT NOT NULL,"
       " updated_at TEXT NOT NULL)",
       "CREATE TABLE persona_avatars (persona_id TEXT PRIMARY KEY, image BYTEA NOT NULL, etag TEXT NOT NULL,"
       " updated_at TEXT NOT NULL)"},
  };
  return list;
}

core::result<std::vector<character>> persona_store::list() {
  std::vector<character> out{kaya()};
  WATTOS_ASSIGN_OR_RETURN(auto rows, db_.execute("SELECT data FROM persona_characters ORDER BY name", {}));
  for (const auto& r : rows.rows) {
    WATTOS_ASSIGN_OR_RETURN(auto data, r.get_text(0));
    WATTOS_ASSIGN_OR_RETURN(auto c, from_json(data));
    out.push_back(std::move(c));
  }
  return out;
}

core::result<character> persona_store::get(std::string_view id_or_name) {
  if (id_or_name == "kaya" || id_or_name == "KAYA") return kaya();
  WATTOS_ASSIGN_OR_RETURN(auto rows, db_.execute("SELECT data FROM persona_characters WHERE id = ? OR name = ?",
                                                 {std::string(id_or_name), std::string(id_or_name)}));
  if (rows.rows.empty()) return core::error::not_found("persona not found");
  WATTOS_ASSIGN_OR_RETURN(auto data, rows.rows.front().get_text(0));
  return from_json(data);
}

core::result<character> persona_store::create(const std::string& owner_id, character c) {
  WATTOS_RETURN_IF_ERROR(validate(c));
  if (c.name == "KAYA" || c.name == "kaya") return core::error::already_exists("KAYA is the built-in persona");
  c.id = core::new_uuid_v7();
  c.owner_id = owner_id;
  c.builtin = false;
  c.avatar_etag.clear();
  c.created_at = core::utc_now_iso();
  c.updated_at = c.created_at;
  auto st = db_.execute(
      "INSERT INTO persona_characters (id, owner_id, name, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
      {c.id, c.owner_id, c.name, to_json(c), c.created_at, c.updated_at});
  if (!st) {
    if (st.err().code() == core::errc::already_exists) {
      return core::error::already_exists("a persona named '" + c.name + "' exists");
    }
    return st.err();
  }
  return c;
}

core::result<character> persona_store::update(const std::string& user_id, bool admin, std::string_view id,
                                              character c) {
  WATTOS_ASSIGN_OR_RETURN(auto current, editable(user_id, admin, id, "change"));
  WATTOS_RETURN_IF_ERROR(validate(c));
  c.id = current.id;
  c.owner_id = current.owner_id;
  c.created_at = current.created_at;
  c.avatar_etag = current.avatar_etag;
  c.builtin = false;
  c.updated_at = core::utc_now_iso();
  auto st = db_.execute("UPDATE persona_characters SET name = ?, data = ?, updated_at = ? WHERE id = ?",
                        {c.name, to_json(c), c.updated_at, c.id});
  if (!st) {
    if (st.err().code() == core::errc::already_exists) {
      return core::error::already_exists("a persona named '" + c.name + "' exists");
    }
    return st.err();
  }
  return c;
}

core::status persona_store::remove(const std::string& user_id, bool admin, std::string_view id) {
  WATTOS_ASSIGN_OR_RETURN(auto current, editable(user_id, admin, id, "delete"));
  return db_.transaction([&](db::connection& conn) -> core::status {
    WATTOS_RETURN_IF_ERROR(conn.execute("DELETE FROM persona_avatars WHERE persona_id = ?", {current.id}));
    WATTOS_RETURN_IF_ERROR(conn.execute("DELETE FROM persona_characters WHERE id = ?", {current.id}));
    return {};
  });
}

core::result<character> persona_store::editable(const std::string& user_id, bool admin, std::string_view id,
                                                std::string_view what) {
  if (id == "kaya" || id == "KAYA") {
    return core::error::permission_denied("KAYA is built in and cannot be " +
                                          std::string(what == "delete" ? "deleted" : "changed"));
  }
  WATTOS_ASSIGN_OR_RETURN(auto current, get(id));
  if (current.builtin) return core::error::permission_denied("KAYA is built in and cannot be changed");
  if (current.owner_id != user_id && !admin) {
    return core::error::permission_denied("only the creator or an admin may " + std::string(what) + " this persona");
  }
  return current;
}

core::status persona_store::write_avatar(character& c, const std::string* png) {
  c.avatar_etag = png != nullptr ? core::sha256_hex(*png).substr(0, 32) : std::string();
  c.updated_at = core::utc_now_iso();
  return db_.transaction([&](db::connection& conn) -> core::status {
    if (png != nullptr) {
      db::blob bytes{std::vector<std::uint8_t>(png->begin(), png->end())};
      WATTOS_RETURN_IF_ERROR(
          conn.execute("INSERT INTO persona_avatars (persona_id, image, etag, updated_at) VALUES (?, ?, ?, ?)"
                       " ON CONFLICT (persona_id) DO UPDATE SET image = excluded.image, etag = excluded.etag,"
                       " updated_at = excluded.updated_at",
                       {c.id, std::move(bytes), c.avatar_etag, c.updated_at}));
    } else {
      WATTOS_RETURN_IF_ERROR(conn.execute("DELETE FROM persona_avatars WHERE persona_id = ?", {c.id}));
    }
    WATTOS_RETURN_IF_ERROR(conn.execute("UPDATE persona_characters SET data = ?, updated_at = ? WHERE id = ?",
                                        {to_json(c), c.updated_at, c.id}));
    return {};
  });
}

core::result<character> persona_store::set_avatar(const std::string& user_id, bool admin, std::string_view id,
                                                  const avatar_image& image) {
  WATTOS_ASSIGN_OR_RETURN(auto c, editable(user_id, admin, id, "change"));
  WATTOS_RETURN_IF_ERROR(write_avatar(c, &image.png));
  return c;
}

core::result<character> persona_store::upload_avatar(const std::string& user_id, bool admin, std::string_view id,
                                                     std::string_view upload, const avatar_limits& limits) {
  WATTOS_ASSIGN_OR_RETURN(auto c, editable(user_id, admin, id, "change"));
  WATTOS_ASSIGN_OR_RETURN(auto image, normalise_avatar(upload, limits));
  WATTOS_RETURN_IF_ERROR(write_avatar(c, &image.png));
  return c;
}

core::result<character> persona_store::remove_avatar(const std::string& user_id, bool admin, std::string_view id) {
  WATTOS_ASSIGN_OR_RETURN(auto c, editable(user_id, admin, id, "change"));
  if (c.avatar_etag.empty()) return c;
  WATTOS_RETURN_IF_ERROR(write_avatar(c, nullptr));
  return c;
}

core::result<std::string> persona_store::avatar_png(const character& c) {
  WATTOS_ASSIGN_OR_RETURN(auto rows, db_.execute("SELECT image FROM persona_avatars WHERE persona_id = ?", {c.id}));
  if (rows.rows.empty()) return core::error::not_found("this persona has no uploaded avatar");
  WATTOS_ASSIGN_OR_RETURN(auto image, rows.rows.front().get_blob(0));
  return std::string(image.bytes.begin(), image.bytes.end());
}

core::result<persona_store::stored_avatar> persona_store::avatar(std::string_view id) {
  WATTOS_ASSIGN_OR_RETURN(auto c, get(id));
  if (c.avatar_etag.empty()) return core::error::not_found("this persona has no uploaded avatar");
  WATTOS_ASSIGN_OR_RETURN(auto png, avatar_png(c));
  return stored_avatar{std::move(png), c.avatar_etag};
}

}  // namespace wattos::persona
