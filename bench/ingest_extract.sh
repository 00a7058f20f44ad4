#!/usr/bin/env bash
# Ingestion parser benchmark: PDF text extraction pages/s of our parser (poppler-cpp,
# blocks, UTF-8 checks; OCR off) against `pdftotext` (poppler-utils) on the text-layer
# PDFs of shared/data/docs, in the same run and on the same files. Each pass runs both,
# alternating file by file so that both see the same load on a shared machine. Ours is
# timed inside extract_bench (parse_file: reading, detection, extraction, blocks), without
# its process start (libraries and the libmagic database take some 30 ms); pdftotext is
# timed from outside, its process start included.
# Goal: ours >= 0.8 of pdftotext's pages/s. `--record` appends the table to
# bench/RESULTS.md. EXTRACT_REPEAT passes (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
record=${1:-}
source bench/lib.sh
bench_build extract_bench
repeat=${EXTRACT_REPEAT:-5}
docs=${DOCS_DIR:-../shared/data/docs}
names=(de/Duetsche_Grundgesetz.pdf de/D_EITI_Bericht_2016.pdf de/Zahlungsabgleich_Empfehlungen.pdf
  de/docspell_letter-de.pdf en/markitdown_REPAIR-2022-INV-001_multipage.pdf en/markitdown_test.pdf)

now() { date +%s.%N; }
declare -A pages ours peer
for n in "${names[@]}"; do
  pages[$n]=$(pdfinfo "$docs/$n" | sed -n 's/^Pages: *//p')
  ours[$n]=0
  peer[$n]=0
  # One untimed run of each warms the page cache.
  "$build_dir/bench/extract_bench" --repeat 1 "$docs/$n" >/dev/null
  pdftotext -q "$docs/$n" /dev/null
done
for _ in $(seq 1 "$repeat"); do
  for n in "${names[@]}"; do
    t=$(field seconds "$("$build_dir/bench/extract_bench" --repeat 1 "$docs/$n")")
    ours[$n]=$(awk "BEGIN { print ${ours[$n]} + $t }")
    s=$(now); pdftotext -q "$docs/$n" /dev/null; e=$(now)
    peer[$n]=$(awk "BEGIN { print ${peer[$n]} + $e - $s }")
  done
done

rows=()
total_pages=0 total_ours=0 total_peer=0
for n in "${names[@]}"; do
  p=$((pages[$n] * repeat))
  total_pages=$((total_pages + p))
  total_ours=$(awk "BEGIN { print $total_ours + ${ours[$n]} }")
  total_peer=$(awk "BEGIN { print $total_peer + ${peer[$n]} }")
  rows+=("$(awk "BEGIN { printf \"| %s | %d | %.1f | %.1f | %.2f |\", \"$n\", $p, $p / ${ours[$n]}, $p / ${peer[$n]}, ${peer[$n]} / ${ours[$n]} }")")
done
rows+=("$(awk "BEGIN { printf \"| **all** | %d | %.1f | %.1f | **%.2f** |\", $total_pages, $total_pages / $total_ours, $total_pages / $total_peer, $total_peer / $total_ours }")")
table=$(cat <<TABLE
| file | pages ($repeat passes) | WattOS pages/s | pdftotext pages/s | ratio |
|---|---|---|---|---|
$(printf '%s\n' "${rows[@]}")
TABLE
)
echo "$table"
if [ "$record" = "--record" ]; then
  {
    echo
    echo "## Ingestion: PDF text extraction vs pdftotext ($(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD))"
    echo
    echo "Command: \`bench/ingest_extract.sh --record\` (Release build; $repeat passes over the text-layer PDFs of"
    echo "shared/data/docs, file by file alternating; OCR off; ours timed in-process around parse_file, pdftotext"
    echo "$(pdftotext -v 2>&1 | sed -n 's/^pdftotext version //p') (the same poppler) as a process per file)."
    echo
    echo "$table"
  } >>bench/RESULTS.md
fi
