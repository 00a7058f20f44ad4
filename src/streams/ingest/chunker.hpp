// File: streams/ingest/chunker.hpp
//
// Structure-aware chunking: a parsed document's blocks become chunks of about
// `target_tokens` tokens (the gateway's estimate, ~4 bytes a token), cut at the
// document's structure first: a new heading or a new page always starts a chunk, then
// block (paragraph, list item, table row) boundaries, then sentence boundaries, and
// only a single sentence longer than a chunk is cut between words. Consecutive chunks
// of one section share up to `overlap_tokens` tokens of whole sentences or blocks.
//
// Every chunk's text is exactly document_text(doc).substr(char_start, char_end -
// char_start) (offsets in bytes of the UTF-8 text, never inside a character), with the
// page of its first block and its heading path ("Kapitel 2 > Fristen"), so a citation
// can point at the passage. A heading with no text under it is kept with the section
// that follows it.
//
// Example:
//   auto chunks = ingest::chunk_document(doc, {.target_tokens = 256, .overlap_tokens = 32});
#pragma once

#include <vector>

#include "streams/ingest/parsed_document.hpp"
#include "streams/rag/rag_service.hpp"

namespace wattos::streams::ingest {

struct chunk_settings {
  int target_tokens = 256;
  int overlap_tokens = 32;  // must be smaller than target_tokens
};

std::vector<rag::chunk_input> chunk_document(const parsed_document& doc, const chunk_settings& settings);

}  // namespace wattos::streams::ingest
