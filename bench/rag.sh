#!/usr/bin/env bash
# RAG benchmarks (issue: RAG service):
#   quality   `wattos eval retrieval` on SciFact (BEIR test split: 300 claims, 5,183
#             abstracts) for lexical, vector and hybrid search with the built-in embedder
#   scale     bench/rag_bench at RAG_BENCH_SIZES chunks (default 10,000 and 100,000;
#             add 1000000 for the 1M figure, about 15 minutes and 4 GB here): HNSW build
#             rate, memory per million vectors, recall@10 against exact search, and
#             p50/p95 of vector, lexical and hybrid search; FAISS's HNSW (libfaiss, same
#             vectors, same M/efConstruction/efSearch, one thread) in the same run
#   lexical   bench/bm25_bench at BM25_BENCH_SIZES chunks (default 100,000; add 1000000):
#             BM25 top 10 and top 100 p50/p95/p99 against the exhaustive scoring and
#             against Xapian (libxapian, BM25 with the same k1 and b, fed the same terms)
# `--record` appends the tables to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
record=${1:-}
source bench/lib.sh
bench_build wattos rag_bench bm25_bench
data=${SCIFACT_DIR:-../shared/data/scifact}
sizes=${RAG_BENCH_SIZES:-10000 100000}

eval_cmd=("$build_dir/src/app/wattos" eval retrieval --corpus "$data/allenai_scifact_csv/corpus_train.csv"
  --queries "$data/allenai_scifact_csv/claims_validation.csv" --qrels "$data/beir_qrels/test.tsv")
quality=$("${eval_cmd[@]}")
echo "$quality"

rows=()
for n in $sizes; do
  out=$("$build_dir/bench/rag_bench" "$n" 200)
  echo "$out"
  rows+=("| $n | $(field build_per_s "$out") | $(field faiss_build_per_s "$out") | $(field mib_per_million "$out") | $(field recall_at_10 "$out") | $(field faiss_recall_at_10 "$out") | $(field vector_p50_ms "$out") / $(field vector_p95_ms "$out") | $(field faiss_p50_ms "$out") / $(field faiss_p95_ms "$out") | $(field lexical_p50_ms "$out") / $(field lexical_p95_ms "$out") | $(field hybrid_p50_ms "$out") / $(field hybrid_p95_ms "$out") |")
done
scale=$(cat <<TABLE
| chunks | build /s (chunk: text + vector) | FAISS HNSW build /s (vector) | MiB per 1M chunks (vectors, graph, BM25, text) | recall@10 vs exact | FAISS recall@10 | vector p50 / p95 ms | FAISS p50 / p95 ms | lexical p50 / p95 ms | hybrid p50 / p95 ms |
|---|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")
TABLE
)
echo "$scale"

lexical_rows=()
for n in ${BM25_BENCH_SIZES:-100000}; do
  out=$("$build_dir/bench/bm25_bench" "$n" 300)
  echo "$out"
  lexical_rows+=("| $n | $(field build_per_s "$out") | $(field xapian_build_per_s "$out") | $(field top10_p50_ms "$out") / $(field top10_p95_ms "$out") / $(field top10_p99_ms "$out") | $(field xapian10_p50_ms "$out") / $(field xapian10_p95_ms "$out") / $(field xapian10_p99_ms "$out") | $(field top100_p50_ms "$out") / $(field top100_p95_ms "$out") / $(field top100_p99_ms "$out") | $(field xapian100_p50_ms "$out") / $(field xapian100_p95_ms "$out") / $(field xapian100_p99_ms "$out") | $(field exhaustive100_p50_ms "$out") / $(field exhaustive100_p95_ms "$out") | $(field top10_shared_with_xapian "$out") |")
done
lexical=$(cat <<TABLE
| chunks | BM25 build /s | Xapian build /s | top 10 p50 / p95 / p99 ms | Xapian top 10 | top 100 p50 / p95 / p99 ms | Xapian top 100 | exhaustive top 100 p50 / p95 ms | top 10 shared with Xapian |
|---|---|---|---|---|---|---|---|---|
$(printf '%s\n' "${lexical_rows[@]}")
TABLE
)
echo "$lexical"
if [ "$record" = "--record" ]; then
  {
    echo
    echo "## RAG retrieval quality and scale ($(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD))"
    echo
    echo "Command: \`bench/rag.sh --record\`. Quality: \`wattos eval retrieval\` on SciFact (BEIR test split),"
    echo "built-in embedder \`wattos-embed\` (384-d), HNSW index, default settings (BM25 k1 0.9 b 0.4, hybrid: convex combination 0.5/0.5 of min-max scores,"
    echo "queries IDF-weighted for the built-in embedder). Published BM25 on SciFact: nDCG@10 0.665."
    echo
    echo "$quality"
    echo
    echo "Scale: \`rag_bench N\` (synthetic: 40 Zipf words per chunk from 20,000, 384-d vectors from 1,000 Gaussian"
    echo "clusters; 200 queries of 6 words; k = 10; one thread)."
    echo
    echo "$scale"
    echo
    echo "Lexical: \`bm25_bench N 300\` (the same synthetic chunks; 300 queries of 6 Zipf words; Xapian glass database,"
    echo "BM25Weight(k1 0.9, k2 0, k3 1, b 0.4, min normlen 0.5), OR query, one thread)."
    echo
    echo "$lexical"
  } >>bench/RESULTS.md
fi
