#!/usr/bin/env bash
# Installs what the browser tests and the load test need from Debian's packages:
# headless Chromium with its WebDriver (chromium-driver) and wrk. Idempotent; prints
# nothing when everything is already there. The tests find them on PATH
# (RDT_CHROMEDRIVER / RDT_CHROMIUM override).
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" fonts-dejavu-core >/dev/null
