#!/usr/bin/env bash
# Ingestion end to end (issue: ingestion service): `wattos ingest` (parse, chunk, embed
# with the built-in embedder, index into SQLite + HNSW files) over
#   real      the shared German and English documents with a text layer (PDF, DOCX,
#             PPTX, XLSX, HTML, MD, TXT; OCR off, scans left out)
#   abstracts INGEST_BENCH_ABSTRACTS SciFact abstracts as text files (default 2,000)
# each into a fresh data directory, with ingest.workers from INGEST_BENCH_WORKERS
# (default 2). Reports documents/s, pages/s (real), chunks and the process's peak RSS.
# INGEST_BENCH_BASELINE=<another wattos binary> (built from an earlier commit) runs the
# same corpora through it too, alternating, and adds its rows and the speed-up
# (INGEST_BENCH_BASELINE_COMMIT names its commit in the record).
# `--record` appends the table to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
record=${1:-}
source bench/lib.sh
bench_build wattos
abstracts=${INGEST_BENCH_ABSTRACTS:-2000}
workers=${INGEST_BENCH_WORKERS:-2}
docs=../shared/data/docs
bench_workdir

mkdir -p "$work/real" "$work/abstracts"
for f in "$docs"/de/* "$docs"/en/*; do
  case "$f" in
    *offengelegte*|*Kurseinsicht*) ;;  # image-only PDFs: OCR, measured apart
    *) cp "$f" "$work/real/" ;;
  esac
done
python3 - ../shared/data/scifact/allenai_scifact_csv/corpus_train.csv "$work/abstracts" "$abstracts" <<'PY'
import ast, csv, sys, os
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
csv.field_size_limit(1 << 24)
with open(src, newline='', encoding='utf-8') as f:
    for i, row in enumerate(csv.DictReader(f)):
        if i >= n: break
        with open(os.path.join(out, f"{row['doc_id']}.txt"), 'w', encoding='utf-8') as o:
            try:
                abstract = " ".join(ast.literal_eval(row['abstract'].replace("'\n '", "', '")))
            except (ValueError, SyntaxError):
                abstract = row['abstract']
            o.write(row['title'] + "\n\n" + abstract)
PY

# run NAME DIR [BINARY]: ingests DIR into a fresh store; prints "docs= seconds= rss_mib= pages= chunks=".
run() {
  local name=$1 dir=$2 binary=${3:-$build_dir/src/app/wattos}
  local data="$work/data-$name"
  python3 - "$binary" "$data" "$dir" "$workers" <<'PY'
import os, resource, sqlite3, subprocess, sys, time
binary, data, src, workers = sys.argv[1:5]
env = dict(os.environ, WATTOS_DATA_DIR=data, WATTOS_INGEST_OCR="false", WATTOS_INGEST_WORKERS=workers)
t0 = time.monotonic()
p = subprocess.run([binary, "ingest", "--create", "--space", "bench", src], env=env, capture_output=True, text=True)
seconds = time.monotonic() - t0
if p.returncode not in (0, 1):  # 1: some files failed (the legacy .xls)
    sys.exit(f"{binary} ingest failed ({p.returncode}): {p.stderr[-2000:]}")
rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
db = sqlite3.connect(os.path.join(data, "wattos.db"))
docs, pages, chunks, failed = db.execute(
    "SELECT SUM(status = 'done'), SUM(pages), SUM(chunks), SUM(status = 'failed') FROM ingest_files").fetchone()
print(f"docs={docs} failed={failed} seconds={seconds:.2f} rss_mib={rss_mib:.0f} pages={pages} chunks={chunks} "
      f"docs_per_s={docs / seconds:.1f} pages_per_s={pages / seconds:.1f}")
if failed:
    for row in db.execute("SELECT filename, error FROM ingest_files WHERE status = 'failed'"):
        print("  failed:", *row, file=sys.stderr)
PY
}

row() {  # row LABEL RESULT
  local pages_per_s=-  # text files have no pages
  [ "$(field pages "$2")" = 0 ] || pages_per_s=$(field pages_per_s "$2")
  echo "| $1 | $(field docs "$2") | $(field failed "$2") | $(field seconds "$2") | $(field docs_per_s "$2") |" \
    "$pages_per_s | $(field chunks "$2") | $(field rss_mib "$2") |"
}
baseline=${INGEST_BENCH_BASELINE:-}
if [ -n "$baseline" ]; then
  base_real=$(run base-real "$work/real" "$baseline")
  echo "baseline, real documents: $base_real"
fi
real=$(run real "$work/real")
echo "real documents: $real"
if [ -n "$baseline" ]; then
  base_synthetic=$(run base-abstracts "$work/abstracts" "$baseline")
  echo "baseline, abstracts: $base_synthetic"
fi
synthetic=$(run abstracts "$work/abstracts")
echo "abstracts: $synthetic"
table=$(
  echo "| corpus | documents done | failed | seconds | documents/s | pages/s | chunks | peak RSS MiB |"
  echo "|---|---|---|---|---|---|---|---|"
  [ -z "$baseline" ] || row "shared documents (text layer, OCR off), baseline" "$base_real"
  row "shared documents (text layer, OCR off)" "$real"
  [ -z "$baseline" ] || row "SciFact abstracts as .txt, baseline" "$base_synthetic"
  row "SciFact abstracts as .txt" "$synthetic"
)
if [ -n "$baseline" ]; then
  speedup=$(python3 -c "import sys; a, b = map(float, sys.argv[1:]); print(f'{a / b:.2f}')" \
    "$(field seconds "$base_synthetic")" "$(field seconds "$synthetic")")
  table+=$'\n\n'"Abstracts: this build ingests ${speedup}x as fast as the baseline."
fi
echo "$table"
if [ "$record" = "--record" ]; then
  {
    echo
    echo "## Ingestion end to end ($(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD))"
    echo
    echo "Command: \`bench/ingest.sh --record\` (Release build, \`wattos ingest\` with $workers workers, the built-in"
    echo "embedder, SQLite + HNSW files, a fresh data directory per corpus; $(nproc) cores shared with the rest of the machine)."
    [ -z "$baseline" ] || echo "Baseline (\`INGEST_BENCH_BASELINE\`): a Release build of commit ${INGEST_BENCH_BASELINE_COMMIT:-(not named)}."
    echo
    echo "$table"
  } >>bench/RESULTS.md
fi
