#!/usr/bin/env bash
# Make sure the Prometheus tools are installed: promtool (Debian's `prometheus` package)
# for `make generate`; with --for-tests also prometheus (the end-to-end tests start one)
# and amtool (`prometheus-alertmanager`, which checks out/alertmanager/).
# Installs what is missing with apt when running as root (or with sudo) on Debian/Ubuntu;
# otherwise says how, and fails only when a tool this use needs is missing.
set -euo pipefail

required="promtool"
if [ "${1:-}" = "--for-tests" ]; then
  required="promtool prometheus amtool"
fi

packages=""
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  packages="prometheus"
fi
if ! command -v amtool >/dev/null 2>&1; then
  packages="$packages prometheus-alertmanager"
fi

missing_required() {
  local tool
  for tool in $required; do
    command -v "$tool" >/dev/null 2>&1 || return 0
  done
  return 1
}

if [ -n "$packages" ] && command -v apt-get >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo="sudo -n"
    else
      sudo="none"
    fi
  fi
  if [ "$sudo" != "none" ]; then
    echo "installing promtool, prometheus, amtool (apt-get install $packages)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >/dev/null
    # shellcheck disable=SC2086 # $packages is a list of words
    $sudo apt-get install -y -qq --no-install-recommends $packages >/dev/null
    # The packages may start services on install; tests start their own servers.
    if command -v systemctl >/dev/null 2>&1; then
      $sudo systemctl stop prometheus prometheus-alertmanager >/dev/null 2>&1 || true
    fi
  fi
fi

if missing_required; then
  echo "missing: $(for t in $required; do command -v "$t" >/dev/null 2>&1 || printf '%s ' "$t"; done)-" \
    "run 'sudo apt-get update && sudo apt-get install -y prometheus prometheus-alertmanager'" \
    "(Debian/Ubuntu), or install Prometheus 2.x and Alertmanager (https://prometheus.io/download/)" \
    "so that promtool, prometheus and amtool are on PATH" >&2
  exit 1
fi
exit 0
