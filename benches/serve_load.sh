#!/usr/bin/env bash
# Load on a served desk: 50 clients over the socket, each paging, reading,
# flagging and linking 20 times a second for 60 s while the server syncs
# 20,000 mails from a loopback Dovecot. Prints one `BENCH serve_load` line:
# per-client event loss and reordering, p50/p99 command→answer latency,
# server peak RSS and CPU. Run by hand; not part of CI.
#
#   benches/serve_load.sh
#   BENCH_CLIENTS=10 BENCH_SECS=20 BENCH_MESSAGES=5000 benches/serve_load.sh
#   BENCH_PROFILE=debug benches/serve_load.sh     # skip the release build
#   BENCH_SYNC_FIRST=1 benches/serve_load.sh       # clients start after the sync: the serve layer alone
set -euo pipefail
cd "$(dirname "$0")/.."
command -v dovecot >/dev/null || [ -x /usr/sbin/dovecot ] || {
  echo "Dovecot is not installed; tests/run.sh installs the mail servers" >&2; exit 1; }
release=--release
[ "${BENCH_PROFILE:-release}" = debug ] && release=
cargo test $release --test serve_bench -- --ignored --nocapture 2>&1 \
  | tee /tmp/deskmail-serve-bench.log | grep -E '^BENCH'
