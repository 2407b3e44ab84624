#!/usr/bin/env bash
# Customer image benchmark (issue 16): building and pushing a customer image to a registry when only the bundle changed,
# against a full build and push into an empty registry, in the same script. The base is the real one
# (scripts/build-base-image.sh: Debian minbase + OpenSlide + lamina-serve self-contained, cached in bench/.data/image),
# the bundle is the demo's (bench/analyze.sh's set-up), the registry Debian's docker-registry started here.
# Target: the bytes pushed for a bundle-only change < 10 % of a full build's. Prints JSON lines, then ratios.
source "$(dirname "$0")/common.sh"
source bench/registry-server.sh
build
analyze_setup
here=$data/image
mkdir -p "$here"
base_layout=$here/base
if [ ! -f "$base_layout/index.json" ]; then
  echo "setting up: the base image (scripts/build-base-image.sh; mmdebstrap downloads ~100 MB once)"
  scripts/build-base-image.sh --tag lamina-serve:0.1.0 --oci-layout "$base_layout" > "$here/base.log" 2>&1
fi
rm -rf "$here/bundle-2"
# The same resolved file bundled again: a new provenance.json (its invocation id and times), so a new bundle layer.
./lamina bundle "$demo/release/resolved.yaml" -o "$here/bundle-2" > /dev/null
results=$here/results.jsonl
: > "$results"
reg_start

# build_push NAME BUNDLE TAG: lamina image build --push, timed from outside; one JSON line with the bytes sent and reused.
build_push() {
  local start end json
  start=$(date +%s.%N)
  json=$(./lamina image build --bundle "$2" --base "oci:$base_layout:0.1.0" --tag "$REG_ADDR/customers/bench:$3" --push --json)
  end=$(date +%s.%N)
  python3 - "$1" "$start" "$end" "$json" <<'PY' | tee -a "$results"
import json, sys
r = json.loads(sys.argv[4])
print(json.dumps({"name": sys.argv[1], "seconds": round(float(sys.argv[3]) - float(sys.argv[2]), 3),
                  "bytes_sent": r["bytes_sent"], "bytes_reused": r["bytes_reused"], "digest": r["digest"]}))
PY
}

for round in 1 2 3; do
  # A full build: the registry holds nothing of the image (a fresh repository of a fresh registry).
  reg_stop; trap - EXIT; reg_start
  build_push "full-$round" "$demo/bundle" "1.$round"
  # Only the bundle changed: the base layers are in the repository already.
  build_push "bundle-only-$round" "$here/bundle-2" "2.$round"
done

python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
full = [r for r in rows if r["name"].startswith("full")]
delta = [r for r in rows if r["name"].startswith("bundle-only")]
bytes_ratio = statistics.median(d["bytes_sent"] / f["bytes_sent"] for f, d in zip(full, delta))
time_ratio = statistics.median(d["seconds"] / f["seconds"] for f, d in zip(full, delta))
print(f"full build+push: {statistics.median(r['bytes_sent'] for r in full) / 1e6:.1f} MB sent, "
      f"{statistics.median(r['seconds'] for r in full):.1f} s (median of {len(full)})")
print(f"bundle-only build+push: {statistics.median(r['bytes_sent'] for r in delta) / 1e6:.1f} MB sent, "
      f"{statistics.median(r['bytes_reused'] for r in delta) / 1e6:.1f} MB reused, {statistics.median(r['seconds'] for r in delta):.1f} s")
print(f"bytes pushed, bundle-only / full: {bytes_ratio:.3f} (target < 0.10)")
print(f"time, bundle-only / full: {time_ratio:.3f}")
PY
