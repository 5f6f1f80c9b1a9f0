#!/usr/bin/env bash
# The test command of deskmail: `bash tests/run.sh [extra cargo test args]`.
#
# The integration tests start real Dovecot and Postfix servers on 127.0.0.1
# (see tests/support/mailstack.rs), so the Debian packages below must be
# installed.  As root this script installs what is missing (without letting
# the packages start any system daemons); otherwise it says what to install.
# Then it runs the whole suite with one debug build: `cargo test --locked`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export RUST_BACKTRACE=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

readonly PKGS=(dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd postfix tmux openssl ca-certificates)
readonly CMDS=(dovecot doveadm postfix openssl tmux)

say() { echo "run.sh: $*"; }
die() { echo "run.sh: ERROR: $*" >&2; exit 1; }

missing_packages() {
  local p
  if command -v dpkg-query >/dev/null 2>&1; then
    for p in "${PKGS[@]}"; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
    done
  else
    for p in "${CMDS[@]}"; do
      command -v "$p" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$p" >/dev/null 2>&1 || echo "$p"
    done
  fi
}

POLICY=/usr/sbin/policy-rc.d
POLICY_BACKUP=""
POLICY_INSTALLED=0
restore_policy() {
  if (( POLICY_INSTALLED )); then
    if [[ -n $POLICY_BACKUP ]]; then
      mv -f "$POLICY_BACKUP" "$POLICY"
    else
      rm -f "$POLICY"
    fi
    POLICY_INSTALLED=0
  fi
}

install_packages() {
  local missing=("$@")
  command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get to install them"
  say "installing: ${missing[*]}"
  # Keep the packages' maintainer scripts from starting system-wide daemons.
  if [[ -e $POLICY ]]; then
    POLICY_BACKUP=$(mktemp "${POLICY}.deskmail.XXXXXX")
    cp -p "$POLICY" "$POLICY_BACKUP"
  fi
  trap restore_policy EXIT
  POLICY_INSTALLED=1
  printf '#!/bin/sh\n# Installed temporarily by deskmail tests/run.sh.\nexit 101\n' >"$POLICY"
  chmod 0755 "$POLICY"
  if command -v debconf-set-selections >/dev/null 2>&1; then
    printf '%s\n' \
      'postfix postfix/main_mailer_type select No configuration' \
      'postfix postfix/mailname string desk.example' | debconf-set-selections
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
  restore_policy
  trap - EXIT
}

mapfile -t missing < <(missing_packages)
if (( ${#missing[@]} )); then
  if [[ $EUID -eq 0 ]]; then
    install_packages "${missing[@]}"
    mapfile -t missing < <(missing_packages)
    (( ${#missing[@]} == 0 )) || die "still missing after installation: ${missing[*]}"
  else
    echo "run.sh: the tests need these Debian packages: ${missing[*]}" >&2
    echo "run.sh: install them as root with:" >&2
    echo "    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}" >&2
    echo "run.sh: (or run this script as root, which installs them)" >&2
    exit 1
  fi
fi

if [[ $EUID -eq 0 ]] && ! getent passwd vmail >/dev/null; then
  # Mail files of the test servers belong to this system user.
  useradd -r -U -M -d /nonexistent -s /usr/sbin/nologin vmail || getent passwd vmail >/dev/null \
    || die "cannot create the system user vmail"
fi
[[ $EUID -eq 0 ]] || say "warning: not root; the mail-server integration tests need root and will fail"

command -v cargo >/dev/null 2>&1 || die "cargo not found (install Rust, see rust-version in Cargo.toml)"

say "$(cargo --version); $(dovecot --version 2>/dev/null | sed 's/^/dovecot /'); $(postconf -h mail_version 2>/dev/null | sed 's/^/postfix /')"
say "cargo test --locked $*"

log=$(mktemp "${TMPDIR:-/tmp}/deskmail-test.XXXXXX.log")
start=$(date +%s)
set +e
cargo test --locked "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
secs=$(( $(date +%s) - start ))

read -r passed failed ignored suites < <(awk '
  /^test result:/ {
    for (i = 1; i <= NF; i++) {
      if ($(i+1) ~ /^passed/)  p += $i
      if ($(i+1) ~ /^failed/)  f += $i
      if ($(i+1) ~ /^ignored/) g += $i
    }
    s++
  }
  END { printf "%d %d %d %d\n", p, f, g, s }' "$log")
failures=$(awk '/^failures:$/ {on=1; next} on && /^    [A-Za-z0-9_:]+$/ {print "  " $1; next} {on=0}' "$log" | sort -u)
rm -f "$log"

echo
echo "==================== deskmail test summary ===================="
echo "suites: $suites   passed: $passed   failed: $failed   ignored: $ignored   time: ${secs}s"
if [[ -n $failures ]]; then
  echo "failed tests:"
  echo "$failures"
fi
if (( status == 0 )); then
  echo "RESULT: OK"
else
  echo "RESULT: FAILED (cargo test exit status $status)"
fi
exit "$status"
