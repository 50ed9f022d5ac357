#!/usr/bin/env bash
# Runs every fuzz target (or those named) under libFuzzer for SECONDS each.
#   tools/fuzz.sh BINARY SECONDS [TARGET...]
# Starts from the committed seeds (Tests/Fuzz/corpus/<target>/); what libFuzzer finds goes to
# out/fuzz/<target>/corpus, crashes and hangs (> 1 s per input) to out/fuzz/<target>/.
# Prints one line per target with its executions and exits non-zero if any target failed.
# A crash becomes a regression test: copy the file to Tests/Fuzz/regressions/<target>/.
set -uo pipefail
binary=$1; seconds=$2; shift 2
cd "$(dirname "$0")/.."
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for directory in Tests/Fuzz/corpus/*/; do targets+=("$(basename "$directory")"); done
fi
# Swift's crash backtracer takes the signal before libFuzzer can save the input: without this,
# a Swift trap (a failed force unwrap) leaves no crash file.
export SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no}
failed=0
passed_targets=0
failed_targets=0
summary=out/fuzz/summary.txt
mkdir -p out/fuzz
: > "$summary"
for target in "${targets[@]}"; do
  work=out/fuzz/$target
  mkdir -p "$work/corpus"
  log=$work/fuzz.log
  RECSYS_FUZZ_TARGET=$target "$binary" -max_total_time="$seconds" -timeout=1 -rss_limit_mb=4096 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" "Tests/Fuzz/corpus/$target" > "$log" 2>&1
  status=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  artifacts=$(find "$work" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
  line="$target: ${runs:-0} executions in ${seconds} s, exit $status, $artifacts crash/hang files"
  echo "$line" | tee -a "$summary"
  if [ $status -ne 0 ] || [ "$artifacts" -ne 0 ]; then
    failed=1
    failed_targets=$((failed_targets + 1))
    tail -40 "$log"
  else
    passed_targets=$((passed_targets + 1))
  fi
done
echo "fuzz: $passed_targets passed, $failed_targets failed"
exit $failed
