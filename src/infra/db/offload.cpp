#include "infra/db/offload.hpp"

namespace wattos::infra::db {

boost::asio::thread_pool& blocking_pool() {
  static boost::asio::thread_pool pool(4);
  return pool;
}

}  // namespace wattos::infra::db
