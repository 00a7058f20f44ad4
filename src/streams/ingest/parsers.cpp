#include "streams/ingest/parsers.hpp"
