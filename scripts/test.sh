#!/usr/bin/env bash
# The README's test command: install, build, run every test; ends with CTest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd "${ASP_BUILD_DIR:-build}"
exec ctest --output-on-failure -j "$(nproc)"
