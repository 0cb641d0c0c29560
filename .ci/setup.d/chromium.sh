#!/usr/bin/env bash
# Browser for tests/reports/test_report_browser.py: Debian's chromium, driven by Playwright for
# Python through executable_path (Playwright's own browser download is never used; it fails here).
# fonts-liberation gives screenshots readable text. Idempotent: installs only what is missing.
set -euo pipefail
PKGS=(chromium fonts-liberation)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
echo "chromium: $(chromium --version 2>/dev/null || echo 'not runnable')"
