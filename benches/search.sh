#!/usr/bin/env bash
# Search benchmark: deskmail's index against notmuch on the same mails, on a
# 20,000-mail desk synced from a loopback Dovecot (sync time with the indexer
# off and on) and on the 100,000-mail demo desk. Prints `BENCH search` lines:
# build time and size, p50/p99 over 50 fixed queries in process and per
# whole process. Run by hand; not part of CI.
#
#   benches/search.sh
#   BENCH_MESSAGES=5000 BENCH_DEMO_MESSAGES=20000 benches/search.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v dovecot >/dev/null || [ -x /usr/sbin/dovecot ] || {
  echo "Dovecot is not installed; tests/run.sh installs the mail servers" >&2; exit 1; }
if ! command -v notmuch >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq notmuch >/dev/null
  else
    echo "notmuch is not installed: apt-get install notmuch" >&2; exit 1
  fi
fi
cargo test --release --test search_bench -- --ignored --nocapture --test-threads=1 2>&1 \
  | tee /tmp/deskmail-search-bench.log | grep -E '^BENCH'
