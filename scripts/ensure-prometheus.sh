#!/usr/bin/env bash
# Make sure promtool and prometheus (Debian's `prometheus` package) are installed.
# Installs them with apt when running as root on Debian/Ubuntu; otherwise says how.
set -euo pipefail

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
  exit 0
fi

if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo="sudo -n"
    else
      echo "promtool is missing: run 'sudo apt-get update && sudo apt-get install -y prometheus'" >&2
      exit 1
    fi
  fi
  echo "installing promtool and prometheus (apt-get install prometheus)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  # The package may start a service on install; tests start their own server.
  if command -v systemctl >/dev/null 2>&1; then $sudo systemctl stop prometheus >/dev/null 2>&1 || true; fi
  command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 && exit 0
fi

echo "promtool is missing and cannot be installed here: install Prometheus 2.x" \
  "(https://prometheus.io/download/) so that promtool is on PATH" >&2
exit 1
