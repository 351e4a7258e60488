#!/usr/bin/env bash
# Renders resources/icon.png (512x512, what electron-builder turns into each
# platform's icon) from resources/icon.svg. Run after editing the SVG and
# commit both; the build does not need this tool (Debian: librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")/.."
rsvg-convert --width 512 --height 512 --format png --output resources/icon.png resources/icon.svg
