#!/usr/bin/env bash
# Sync benchmark on one loopback Dovecot (the test harness's stack):
#   * a raw single-connection `UID FETCH 1:* BODY.PEEK[]` (benches/imap_raw_fetch.py)
#   * deskmail's sync of the same mailbox, in process and as `deskmail sync --once`
# and prints both times, the ratio, the time to the first screen of the list
# and the binary's peak RSS.  Run by hand; not part of CI.
#
#   benches/sync_bench.sh            # 20,000 mails
#   BENCH_MESSAGES=5000 benches/sync_bench.sh
#   BENCH_LARGE=1 benches/sync_bench.sh   # 20,000, then 100,000 mails and the
#                                         # first frame of a 100,000-mail desk
#
# Each size prints a `BENCH sync` line (ratio to the raw fetch, peak RSS,
# first rows) and a `BENCH breakdown` line: where the in-process sync spent
# its time (fetch_wait: waiting for the server; fetch_blocked: the fetcher
# held up by a full queue; parse_cpu: parsing, summed over threads;
# writer_idle: the writer waiting for parsed mail; build, bodies, apply: the
# writer's batch building, segment write + fsync, sled apply; flush).
set -euo pipefail
cd "$(dirname "$0")/.."
export BENCH_MESSAGES="${BENCH_MESSAGES:-20000}"
command -v python3 >/dev/null || { echo "python3 is needed for the raw fetch" >&2; exit 1; }
command -v dovecot >/dev/null || [ -x /usr/sbin/dovecot ] || {
  echo "Dovecot is not installed; tests/run.sh installs the mail servers" >&2; exit 1; }
cargo build --release --bin deskmail
cargo test --release --test sync_imap --no-run
sizes=("$BENCH_MESSAGES")
[ -n "${BENCH_LARGE:-}" ] && sizes+=(100000)
: >/tmp/deskmail-sync-bench.log
for n in "${sizes[@]}"; do
  BENCH_MESSAGES=$n cargo test --release --test sync_imap -- --ignored --nocapture --test-threads=1 \
    bench_sync_vs_raw_fetch 2>&1 | tee -a /tmp/deskmail-sync-bench.log | grep -E '^(BENCH|raw UID|filled)'
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${BENCH_LARGE:-}" ]; then
  BENCH_NO_BUILD=1 benches/first_frame.sh
fi
if command -v mbsync >/dev/null; then
  echo "mbsync is installed; compare with: mbsync -V against the same stack (see the log)"
fi
