#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for FUZZ_SECONDS
# (default 15) from its seed corpus in tests/fuzz/corpus/<name>. New inputs go to a
# scratch copy, so the committed corpus only changes by hand. A crash fails the run and
# leaves the reproducer in build/fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-15}
build_dir=build/fuzz
CXX=clang++ cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS=-gline-tables-only -DWATTOS_FUZZ=ON -DWATTOS_WERROR=ON >/dev/null
targets=(fuzz_http_request fuzz_multipart fuzz_json_body fuzz_config fuzz_sse_stream fuzz_llm_text fuzz_document fuzz_persona
  fuzz_token fuzz_image)
cmake --build "$build_dir" -j "$(nproc)" --target "${targets[@]}"
mkdir -p "$build_dir/artifacts"
for target in "${targets[@]}"; do
  name=${target#fuzz_}
  work="$build_dir/corpus/$name"
  mkdir -p "$work"
  cp -n tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null || true
  echo "fuzz: $target for ${seconds}s"
  "$build_dir/tests/fuzz/$target" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$build_dir/artifacts/$target-" -print_final_stats=1 "$work" 2>"$build_dir/$target.log" \
    || { tail -50 "$build_dir/$target.log"; echo "fuzz: $target FAILED"; exit 1; }
  grep -E "stat::number_of_executed_units" "$build_dir/$target.log" | sed "s/^/fuzz: $target /"
done
echo "fuzz: all targets passed"
