#!/usr/bin/env bash
# Debian packages some tests use: SIPp (SIP calls), PostgreSQL (outbox on PostgreSQL), Chromium
# and its driver (console and softphone in a real browser). Installed when missing and we are
# root with apt; otherwise the tests that need them skip with a message saying why. With the
# argument "bench": what `make bench` uses instead (espeak-ng).
set -uo pipefail
[ "${VOICE_AGENT_SKIP_SYSTEM_DEPS:-0}" = "1" ] && exit 0
missing=""
if [ "${1:-}" = "bench" ]; then
  # `make bench`: espeak-ng is one of the synthetic voices (without it the figures lack it).
  command -v espeak-ng >/dev/null || missing="$missing espeak-ng"
else
  command -v sipp >/dev/null || missing="$missing sip-tester"
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
  command -v chromium >/dev/null || missing="$missing chromium"
  command -v chromedriver >/dev/null || missing="$missing chromium-driver"
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null; then
  echo "note: not installing$missing (needs root and apt); tests that need them will skip"
  exit 0
fi
echo "installing Debian packages:$missing"
apt-get update -qq >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null 2>&1 \
  || echo "warning: could not install:$missing (tests that need them will skip)"
exit 0
