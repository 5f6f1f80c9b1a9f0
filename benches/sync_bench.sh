#!/usr/bin/env bash
# Sync benchmark on one loopback Dovecot (the test harness's stack):
#   * a raw single-connection `UID FETCH 1:* BODY.PEEK[]` (benches/imap_raw_fetch.py)
#   * deskmail's sync of the same mailbox, in process and as `deskmail sync --once`
# and prints both times, the ratio, the time to the first screen of the list
# and the binary's peak RSS.  Run by hand; not part of CI.
#
#   benches/sync_bench.sh            # 20,000 mails
#   BENCH_MESSAGES=5000 benches/sync_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_MESSAGES="${BENCH_MESSAGES:-20000}"
command -v python3 >/dev/null || { echo "python3 is needed for the raw fetch" >&2; exit 1; }
command -v dovecot >/dev/null || [ -x /usr/sbin/dovecot ] || {
  echo "Dovecot is not installed; tests/run.sh installs the mail servers" >&2; exit 1; }
cargo build --release --bin deskmail
cargo test --release --test sync_imap -- --ignored --nocapture --test-threads=1 bench_sync_vs_raw_fetch 2>&1 \
  | tee /tmp/deskmail-sync-bench.log | grep -E '^(BENCH|raw UID|filled)'
if command -v mbsync >/dev/null; then
  echo "mbsync is installed; compare with: mbsync -V against the same stack (see the log)"
fi
