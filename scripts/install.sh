#!/usr/bin/env bash
# Installs everything tfdeepfake needs on a fresh Debian/Ubuntu machine: system tools, then the pinned
# Python stack, then the package itself (editable). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="ffmpeg sox chromium libsox-fmt-all espeak-ng flite festival festvox-kallpc16k
  asterisk-core-sounds-en-g722 asterisk-core-sounds-es-g722 asterisk-core-sounds-fr-g722
  asterisk-core-sounds-it-g722 asterisk-core-sounds-ru-g722"
if command -v apt-get >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  missing=$(for p in $APT_PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
  if [ -n "$missing" ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
  fi
else
  echo "apt-get not found: install these yourself: $APT_PACKAGES" >&2
fi

python3 -m pip install -q -r requirements-lock.txt
python3 -m pip install -q --no-deps --no-build-isolation -e .
python3 -c "import tfdeepfake, tensorflow as tf; print('tfdeepfake', tfdeepfake.__version__, 'on TensorFlow', tf.__version__)"
