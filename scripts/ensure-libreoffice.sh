#!/usr/bin/env bash
# The .xlsx export is checked against LibreOffice (test/integration/libreoffice.test.ts): headless
# `soffice` from Debian's libreoffice-calc-nogui. Installs it when missing and we are root.
set -euo pipefail
if command -v soffice >/dev/null; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "LibreOffice is missing: installing Debian's libreoffice-calc-nogui for the export check"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libreoffice-calc-nogui >/dev/null
  exit 0
fi
echo "LibreOffice (soffice) not found. Install it (sudo apt-get install -y libreoffice-calc-nogui)." >&2
exit 1
