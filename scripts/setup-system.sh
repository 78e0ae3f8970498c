#!/usr/bin/env bash
# Installs the system packages that give this machine real WebGPU adapters (see docs/environment.md):
# Debian's chromium (headless browser + SwiftShader Vulkan ICD) and Mesa's lavapipe from bookworm-backports.
# Idempotent; needs root (or passwordless sudo). Skips anything already present.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup-system: not root and no sudo; install chromium and mesa-vulkan-drivers (bookworm-backports) yourself" >&2
    exit 0
  fi
fi

need_chromium=0; need_lavapipe=0
[ -x /usr/bin/chromium ] && [ -f /usr/lib/chromium/vk_swiftshader_icd.json ] || need_chromium=1
[ -f /usr/share/vulkan/icd.d/lvp_icd.json ] || need_lavapipe=1
if [ "$need_chromium" = 0 ] && [ "$need_lavapipe" = 0 ]; then
  echo "setup-system: chromium and lavapipe already installed"
  exit 0
fi

if [ "$need_lavapipe" = 1 ] && [ -f /etc/debian_version ] && grep -q '^12' /etc/debian_version; then
  # Bookworm's Mesa 22.3 lavapipe is rejected by Dawn; backports has Mesa 25.x.
  mirror="http://deb.debian.org/debian"
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    found=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    [ -n "$found" ] && mirror="$found"
  fi
  if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" \
      | $SUDO tee /etc/apt/sources.list.d/backports.sources >/dev/null
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if [ "$need_chromium" = 1 ]; then
  $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
if [ "$need_lavapipe" = 1 ]; then
  if grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
    $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers >/dev/null
  else
    $SUDO apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers >/dev/null
  fi
fi
echo "setup-system: done"
