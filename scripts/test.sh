#!/usr/bin/env bash
# The README's test command: installs what the tests need when it is
# missing, then runs `cargo test` with any arguments passed on.
#
#   aiosmtpd (Python)  tests/campaign_delivery.rs runs a real SMTP server on
#                      loopback (tests/support/smtp_server.py)
#   duckdb, chdb       tests/sql_warehouses.rs runs `segment sql` in DuckDB
#   (Python wheels)    and in ClickHouse's engine (tests/support/warehouse.py);
#                      about 45 s to install, 300 MB
#   tmux               the console end-to-end test drives the real binary in
#                      tmux on a private socket
#   openssh-client     tests/ssh.rs logs in to `reach serve --ssh` with the
#                      real ssh client and keys made by ssh-keygen
#
# pip is tried first (plain, --user, --break-system-packages); apt only when
# running as root. Nothing present is reinstalled, and nothing is printed
# when everything is present. What cannot be installed gets one line saying
# how to install it, and the tests run anyway (the test that needs it then
# fails with its own one-line message).
set -euo pipefail
cd "$(dirname "$0")/.."

me=scripts/test.sh
apt_updated=0

is_root() { [ "$(id -u)" -eq 0 ]; }

# apt_install PKG...: as root with apt-get, installs quietly (running
# `apt-get update` once per run first); fails otherwise.
apt_install() {
  is_root && command -v apt-get >/dev/null 2>&1 || return 1
  if [ "$apt_updated" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || return 1
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

cannot() { echo "$me: could not install $1; install it with: $2" >&2; }

has_aiosmtpd() { python3 -c "import aiosmtpd" >/dev/null 2>&1; }
has_wheels() { python3 -c "import duckdb, chdb" >/dev/null 2>&1; }

# python3 and aiosmtpd
if ! command -v python3 >/dev/null 2>&1; then
  apt_install python3 python3-pip && echo "$me: installed python3" >&2 || true
fi
if ! command -v python3 >/dev/null 2>&1; then
  cannot python3 "sudo apt-get install python3 python3-pip && python3 -m pip install aiosmtpd"
elif ! has_aiosmtpd; then
  installed=0
  for flags in "" "--user" "--break-system-packages"; do
    # shellcheck disable=SC2086 # $flags is one flag or none
    if python3 -m pip install -q $flags aiosmtpd >/dev/null 2>&1 && has_aiosmtpd; then
      installed=1
      break
    fi
  done
  if [ "$installed" -eq 0 ] && apt_install python3-aiosmtpd && has_aiosmtpd; then
    installed=1
  fi
  if [ "$installed" -eq 1 ]; then
    echo "$me: installed aiosmtpd" >&2
  else
    cannot aiosmtpd "python3 -m pip install aiosmtpd (or: sudo apt-get install python3-aiosmtpd)"
  fi
fi

# duckdb and chdb (pip only: neither is packaged by apt)
if command -v python3 >/dev/null 2>&1 && ! has_wheels; then
  installed=0
  for flags in "" "--user" "--break-system-packages"; do
    # shellcheck disable=SC2086 # $flags is one flag or none
    if python3 -m pip install -q $flags duckdb chdb >/dev/null 2>&1 && has_wheels; then
      installed=1
      break
    fi
  done
  if [ "$installed" -eq 1 ]; then
    echo "$me: installed duckdb and chdb" >&2
  else
    cannot "duckdb and chdb" "python3 -m pip install duckdb chdb"
  fi
fi

# tmux
if ! command -v tmux >/dev/null 2>&1; then
  if apt_install tmux && command -v tmux >/dev/null 2>&1; then
    echo "$me: installed tmux" >&2
  else
    cannot tmux "sudo apt-get install tmux"
  fi
fi

# ssh and ssh-keygen
if ! command -v ssh >/dev/null 2>&1 || ! command -v ssh-keygen >/dev/null 2>&1; then
  if apt_install openssh-client && command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1; then
    echo "$me: installed openssh-client" >&2
  else
    cannot openssh-client "sudo apt-get install openssh-client"
  fi
fi

exec cargo test "$@"
