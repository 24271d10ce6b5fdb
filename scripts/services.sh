#!/usr/bin/env bash
# Make sure the services the tests talk to are installed and running: PostgreSQL with a `test`
# database on 127.0.0.1:5432 (trust auth); Debian's Chromium (dashboard browser tests) and
# promtool from Debian's prometheus package (metrics validation). Safe to run again; it only
# installs what is missing and starts what is down.
set -euo pipefail

log() { printf '[services] %s\n' "$*" >&2; }
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi

apt_install() {
  log "installing $*"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    apt_install postgresql
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    log "starting PostgreSQL $version"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    for _ in $(seq 1 30); do
      pg_isready -q -h 127.0.0.1 -p 5432 && break
      sleep 1
    done
  fi
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    log "PostgreSQL does not answer on 127.0.0.1:5432"
    return 1
  fi
  if ! psql -h 127.0.0.1 -U postgres -tAc "select 1 from pg_database where datname='test'" \
      | grep -q 1; then
    log "creating database test"
    psql -h 127.0.0.1 -U postgres -c "create database test" >/dev/null
  fi
}

ensure_tools() {
  local missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
  fi
}

ensure_tools
ensure_postgres
log "PostgreSQL ready on 127.0.0.1:5432"
