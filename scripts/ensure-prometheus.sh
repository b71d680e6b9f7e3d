#!/usr/bin/env bash
# Make sure promtool and prometheus (Debian's `prometheus` package) and amtool
# (`prometheus-alertmanager`, which checks out/alertmanager/) are installed.
# Installs them with apt when running as root on Debian/Ubuntu; otherwise says how.
set -euo pipefail

packages=""
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  packages="prometheus"
fi
if ! command -v amtool >/dev/null 2>&1; then
  packages="$packages prometheus-alertmanager"
fi
if [ -z "$packages" ]; then
  exit 0
fi

if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo="sudo -n"
    else
      echo "missing: run 'sudo apt-get update && sudo apt-get install -y $packages'" >&2
      exit 1
    fi
  fi
  echo "installing promtool, prometheus, amtool (apt-get install $packages)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >/dev/null
  # shellcheck disable=SC2086 # $packages is a list of words
  $sudo apt-get install -y -qq --no-install-recommends $packages >/dev/null
  # The packages may start services on install; tests start their own servers.
  if command -v systemctl >/dev/null 2>&1; then
    $sudo systemctl stop prometheus prometheus-alertmanager >/dev/null 2>&1 || true
  fi
  command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1 && exit 0
fi

echo "promtool/amtool are missing and cannot be installed here: install Prometheus 2.x and" \
  "Alertmanager (https://prometheus.io/download/) so that promtool and amtool are on PATH" >&2
exit 1
