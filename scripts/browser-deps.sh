#!/usr/bin/env bash
# The browser test's tools: Debian's chromium and chromium-driver (and fonts, so pages
# render text: a Latin one, and WenQuanYi Micro Hei, small, for the Chinese pages), and
# poppler-utils for the stamped-PDF tests, installed when missing. Needs root (or sudo) only when something is missing.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
# pdftotext and pdftoppm: the stamped-PDF tests read and render a buyer's copy.
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list 2>/dev/null | head -n1)" ]; then
  missing+=(fonts-dejavu-core fontconfig)
fi
if ! command -v fc-list >/dev/null 2>&1 || [ -z "$(fc-list :lang=zh 2>/dev/null | head -n1)" ]; then
  missing+=(fonts-wqy-microhei)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "browser-deps: installing ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "browser-deps: need root to install ${missing[*]} (apt-get); install them and re-run" >&2
    exit 1
  }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v pdftotext >/dev/null
