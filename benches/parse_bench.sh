#!/usr/bin/env bash
# Ingest CPU outside the sync, in process and without servers: parses the
# harness's generated mailbox (tests/support/mailgen.rs) on one thread, then
# commits it to a fresh store in batches of 500, and prints a `BENCH parse`
# line with the CPU seconds of each.  Run by hand; not part of CI.
#
#   benches/parse_bench.sh                      # 20,000 mails
#   BENCH_MESSAGES=5000 benches/parse_bench.sh
#   BENCH_RUNS=3 benches/parse_bench.sh         # repeat (figures are noisy on a busy machine)
#   BENCH_BEFORE=/path/to/an/older/parse_bench-exe benches/parse_bench.sh   # the same run, both sides
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_MESSAGES="${BENCH_MESSAGES:-20000}"
cargo test --release --test parse_bench --no-run
for _ in $(seq "${BENCH_RUNS:-1}"); do
  cargo test --release --test parse_bench -- --ignored --nocapture --test-threads=1 \
    bench_parse_generated_mailbox 2>&1 | grep -o 'BENCH.*'
done
if [ -n "${BENCH_BEFORE:-}" ]; then
  for _ in $(seq "${BENCH_RUNS:-1}"); do
    "$BENCH_BEFORE" --ignored --nocapture --test-threads=1 bench_parse_generated_mailbox 2>&1 |
      grep -o 'BENCH.*' | sed 's/^BENCH parse/BENCH parse (before)/'
  done
fi
