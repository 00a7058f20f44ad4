// Makes every later INSERT into the audit log fail (a trigger), as a store that refuses
// writes would: for the tests of what a failed audit batch means.
#pragma once

#include "infra/db/database.hpp"

namespace wattos::api::testing {

// False when the trigger could not be made.
inline bool refuse_audit_rows(infra::db::database& db) {
  if (db.kind() == infra::db::dialect::postgres) {
    auto made = db.execute(
        "CREATE FUNCTION audit_refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$ "
        "LANGUAGE plpgsql");
    return made.ok() && db.execute(
                              "CREATE TRIGGER audit_refuse BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE "
                              "FUNCTION audit_refuse()")
                            .ok();
  }
  return db.execute("CREATE TRIGGER audit_refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'refused'); END")
      .ok();
}

inline bool accept_audit_rows(infra::db::database& db) {
  return db
      .execute(db.kind() == infra::db::dialect::postgres ? "DROP TRIGGER audit_refuse ON audit_log"
                                                         : "DROP TRIGGER audit_refuse")
      .ok();
}

}  // namespace wattos::api::testing
