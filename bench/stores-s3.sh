#!/usr/bin/env bash
# S3 production store benchmark (issue 13, item 9): publishing a 100 MB model package to an S3-compatible server and
# fetching it as a bundle does (every file read whole and hashed), against a folder production store on this machine's
# disk, same package, interleaved rounds, best of 3. The server is s3rver (tools/test-servers) on a free port over a
# temporary folder, stopped at the end. Prints ratios; nothing here gates.
#   bench/stores-s3.sh [--size-mb 100] [--rounds 3]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/ensure-native.sh
dotnet build bench/Lamina.Bench -c Release -nologo -v quiet >/dev/null

work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
tools/test-servers/node_modules/.bin/s3rver --directory "$work/s3" --port "$port" --address 127.0.0.1 --silent --configure-bucket bench &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done

export LAMINA_S3_ENDPOINT="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
echo "production store: publish and fetch of a model (${*:---size-mb 100 --rounds 3}), s3rver at $LAMINA_S3_ENDPOINT against a folder ($(nproc) cores)"
dotnet bench/Lamina.Bench/bin/Release/net10.0/Lamina.Bench.dll stores-s3 s3://bench/production "$work/folder" "$@" | tee "$work/results.jsonl"

python3 - "$work/results.jsonl" <<'PY'
import json, sys
rows = {r["name"]: r for r in map(json.loads, open(sys.argv[1]))}
print()
print(f"{'ratio (time)':40} {'value':>8}")
for what in ("publish", "fetch"):
    s3, folder = rows[f"s3-{what}"], rows[f"folder-{what}"]
    print(f"{'S3 / folder, ' + what:40} {s3['seconds'] / folder['seconds']:8.2f}   ({s3['mb_per_s']:.0f} against {folder['mb_per_s']:.0f} MB/s)")
PY
