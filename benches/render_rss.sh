#!/usr/bin/env bash
# Peak memory of `deskmail render` on a generated plain-text mail (100 MB by
# default): prints a `BENCH render-rss` line with the peak RSS and its ratio
# to the mail's size. Run by hand; not part of CI.
#
#   benches/render_rss.sh              # release build
#   BENCH_MB=20 BENCH_PROFILE=debug benches/render_rss.sh
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${BENCH_MB:-100}
profile=${BENCH_PROFILE:-release}
[ -x /usr/bin/time ] || { echo "/usr/bin/time is needed: apt-get install time" >&2; exit 1; }
if [ "$profile" = release ]; then cargo build --release --bin deskmail -q; else cargo build --bin deskmail -q; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work/big.eml" "$mb" <<'PY'
import sys
path, mb = sys.argv[1], int(sys.argv[2])
line = b"2026-11-25 10:00:00 worker[42]: request handled in 12 ms, status ok\r\n"
with open(path, "wb") as f:
    f.write(b"From: Logs <logs@example.com>\r\nTo: support@desk.example\r\n"
            b"Subject: big log\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
    f.write(line * ((mb << 20) // len(line)))
PY
/usr/bin/time -v "target/$profile/deskmail" render "$work/big.eml" >/dev/null 2>"$work/time.txt"
kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
awk -v kb="$kb" -v mb="$mb" -v t="$secs" -v p="$profile" 'BEGIN {
  printf "BENCH render-rss %s: %d MB text mail, peak RSS %.0f MB (%.1fx the mail), %s\n",
    p, mb, kb / 1024, kb / 1024 / mb, t }'
