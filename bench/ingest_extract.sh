#!/usr/bin/env bash
# Ingestion parser benchmark: PDF text extraction pages/s of our parser (poppler-cpp,
# blocks, UTF-8 checks; OCR off) against `pdftotext` (poppler-utils) on the text-layer
# PDFs of shared/data/docs, in the same run and on the same files, each read from disk
# per pass. pdftotext runs once per file per pass, so its figure includes process start.
# Goal: ours >= 0.8 of pdftotext's pages/s. `--record` appends the table to
# bench/RESULTS.md. EXTRACT_REPEAT passes (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
record=${1:-}
source bench/lib.sh
scripts/deps.sh bench
bench_build extract_bench
repeat=${EXTRACT_REPEAT:-3}
docs=${DOCS_DIR:-../shared/data/docs}
files=("$docs/de/Duetsche_Grundgesetz.pdf" "$docs/de/D_EITI_Bericht_2016.pdf"
  "$docs/de/Zahlungsabgleich_Empfehlungen.pdf" "$docs/de/docspell_letter-de.pdf"
  "$docs/en/markitdown_REPAIR-2022-INV-001_multipage.pdf" "$docs/en/markitdown_test.pdf")

pages=0
for f in "${files[@]}"; do pages=$((pages + $(pdfinfo "$f" | sed -n 's/^Pages: *//p'))); done
pages=$((pages * repeat))

# One untimed pass each warms the page cache for both.
"$build_dir/bench/extract_bench" --repeat 1 "${files[@]}" >/dev/null
for f in "${files[@]}"; do pdftotext -q "$f" /dev/null; done

ours=$("$build_dir/bench/extract_bench" --repeat "$repeat" "${files[@]}")
echo "wattos: $ours"
start=$(date +%s.%N)
for _ in $(seq 1 "$repeat"); do
  for f in "${files[@]}"; do pdftotext -q "$f" /dev/null; done
done
end=$(date +%s.%N)
peer_seconds=$(awk "BEGIN { print $end - $start }")
peer_pps=$(awk "BEGIN { print $pages / $peer_seconds }")
ours_pps=$(field pages_per_s "$ours")
ratio=$(awk "BEGIN { print $ours_pps / $peer_pps }")
printf 'pdftotext: pages=%d seconds=%.3f pages_per_s=%.1f\nratio=%.2f\n' "$pages" "$peer_seconds" "$peer_pps" "$ratio"

table=$(cat <<TABLE
| extractor | pages | seconds | pages/s |
|---|---|---|---|
| WattOS PDF parser (blocks, OCR off) | $(field pages "$ours") | $(field seconds "$ours") | $ours_pps |
| pdftotext $(pdftotext -v 2>&1 | sed -n 's/^pdftotext version //p') | $pages | $(printf '%.3f' "$peer_seconds") | $(printf '%.1f' "$peer_pps") |
TABLE
)
echo "$table"
if [ "$record" = "--record" ]; then
  {
    echo
    echo "## Ingestion: PDF text extraction vs pdftotext ($(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD))"
    echo
    echo "Command: \`bench/ingest_extract.sh --record\` (Release build; $repeat passes over the ${#files[@]} text-layer"
    echo "PDFs of shared/data/docs: Grundgesetz, D-EITI report, Zahlungsabgleich, the letter, the invoice, the paper"
    echo "page; OCR off; one thread each; pdftotext started once per file and pass)."
    echo
    echo "$table"
    echo
    printf 'Ratio: %.2f of pdftotext'"'"'s pages/s (goal >= 0.8).\n' "$ratio"
  } >>bench/RESULTS.md
fi
