#!/usr/bin/env bash
# Whole-process first frame of a demo desk (100,000 mails by default) in a
# 160x48 pseudo-terminal: `deskmail --first-frame-and-exit demo` run N times.
# Printed: the median first frame (the opening frame kept at the last clean
# quit, painted before the store opens), the median first live frame (the
# same with DESKMAIL_NO_FRAME_SNAPSHOT=1: drawn from the open store), and the
# floor, a process that only opens the same store (`deskmail demo --no-tui`).
# Run by hand.
#
#   benches/first_frame.sh                         # release build, 100k mails, 11 runs
#   BENCH_FRAME_MESSAGES=20000 BENCH_RUNS=5 benches/first_frame.sh
set -euo pipefail
cd "$(dirname "$0")/.."
n=${BENCH_FRAME_MESSAGES:-100000}
runs=${BENCH_RUNS:-11}
command -v script >/dev/null || { echo "script (util-linux) is needed for the pty" >&2; exit 1; }
[ -n "${BENCH_NO_BUILD:-}" ] || cargo build --release --bin deskmail -q
bin=target/release/deskmail
desk=${BENCH_FRAME_DIR:-${TMPDIR:-/tmp}/deskmail-frame-$n}
if [ ! -d "$desk/store" ]; then
  t0=$(date +%s%N)
  "$bin" demo --no-tui --messages "$n" --data-dir "$desk" >/dev/null
  echo "built a $n-mail demo desk in $(( ($(date +%s%N) - t0) / 1000000 )) ms at $desk" >&2
fi
store_mb=$(du -sm "$desk" | cut -f1)

# Milliseconds of each of $runs runs of the command, median printed.
median_ms() {
  local times=()
  for _ in $(seq "$runs"); do
    local t0; t0=$(date +%s%N)
    "$@" >/dev/null 2>&1 </dev/null
    times+=( $(( ($(date +%s%N) - t0) / 1000 )) )
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}

export TERM=xterm-256color
pty() { script -qec "stty rows 48 cols 160; $*" /dev/null; }
# One live run keeps the opening frame for the runs after it.
pty "$bin --first-frame-and-exit demo --data-dir $desk" >/dev/null 2>&1 </dev/null
frame=$(median_ms pty "$bin --first-frame-and-exit demo --data-dir $desk")
live=$(median_ms pty "DESKMAIL_NO_FRAME_SNAPSHOT=1 $bin --first-frame-and-exit demo --data-dir $desk")
floor=$(median_ms "$bin" demo --no-tui --data-dir "$desk")
echo "BENCH first-frame mails=$n store_mb=$store_mb runs=$runs median_ms=$frame (goal <= 50) live_frame_ms=$live open_floor_ms=$floor"
