#!/usr/bin/env bash
# Installs what is missing, builds Lamina, and runs the main job (lamina demo) on the embedded default store.
set -euo pipefail
cd "$(dirname "$0")"
scripts/ensure-native.sh
dotnet build Lamina.slnx -c Release -nologo -v quiet
./lamina demo --out "${1:-demo-output}"
