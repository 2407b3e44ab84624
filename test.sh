#!/usr/bin/env bash
# Runs every test of every project; prints one closing line 'N passed, N failed, N skipped'.
set -uo pipefail
cd "$(dirname "$0")"
scripts/ensure-native.sh || exit 1
log="$(mktemp)"
dotnet test Lamina.slnx -c Release -nologo 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
awk '
  /(Passed|Failed)! +- Failed: / {
    gsub(",", ""); for (i = 1; i <= NF; i++) {
      if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1)
    }
  }
  END { printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
rm -f "$log"
exit "$status"
