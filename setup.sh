#!/usr/bin/env bash
# Installs what is missing, builds Lamina (and publishes the command, ahead-of-time compiled, to out/lamina, which
# ./lamina runs), and runs the main job (lamina demo) on the embedded default store.
# The demo's files go to demo-output/ (or the folder given), which is made anew on each run; its runs stay in the
# tracking store (LAMINA_HOME, default ~/.lamina).
set -euo pipefail
cd "$(dirname "$0")"
scripts/ensure-native.sh
dotnet build Lamina.slnx -c Release -nologo -v quiet
scripts/publish-cli.sh
out="${1:-demo-output}"
if [ -d "$out/normalization-test" ]; then
  rm -rf "$out/normalization-test"
fi
./lamina demo --out "$out"
