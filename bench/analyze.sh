#!/usr/bin/env bash
# Analysis benchmark (issue 5, item 7): the whole analysis engine (slide open to result) against PackagedModel.Predict on
# ready pixels and a bare ONNX Runtime loop on ready tensors, same models and tile counts, one process, interleaved
# rounds, best of 3; the share of tissue the mitosis model searched beside the carcinoma's share; peak RSS of a whole
# 8192² analysis and of a larger slide's analysis cancelled after as many tiles. Prints ratios; nothing here gates.
#   bench/analyze.sh            the demo's models and held-out 8192² slide (made once, ~10 minutes), a 20,000² slide
#   bench/analyze.sh --large    the larger slide is bench/slide-tiling.sh --large's 100,000² slide, if it exists
source "$(dirname "$0")/common.sh"
build
analyze_setup
here=$data/analyze
config=$demo/analysis.yaml
slide=$demo/held-out/slide-held-out.tif

results=$here/results.jsonl
echo "analysis throughput on $slide ($(nproc) cores)"
bench analyze "$config" "$slide" | tee "$results"

echo "peak memory, whole analysis of $slide"
bench analyze "$config" "$slide" --memory | sed 's/"analysis-memory"/"memory-small"/' | tee -a "$results"
tiles=$(python3 -c 'import json,sys; print([r for r in map(json.loads, open(sys.argv[1])) if r["name"] == "memory-small"][0]["tiles"])' "$results")
if [ "${1:-}" = "--large" ]; then
  large=$data/s100000/slide-000.tif
  if [ ! -f "$large" ]; then
    echo "no $large: run bench/slide-tiling.sh --large first (it generates the 100,000² slide, ~40 minutes on 2 cores)" >&2
    large=""
  fi
else
  large=$data/s20000/slide-000.tif
  [ -f "$large" ] || ./lamina synth --out "$data/s20000" --slides 1 --size 20000x20000 --seed 1 --json >/dev/null
fi
if [ -n "$large" ]; then
  echo "peak memory, analysis of $large cancelled after $tiles tiles"
  bench analyze "$config" "$large" --memory --max-tiles "$tiles" | sed 's/"analysis-memory"/"memory-large"/' | tee -a "$results"
fi

python3 - "$results" <<'PY'
import json, sys
rows = {r["name"]: r for r in map(json.loads, open(sys.argv[1]))}
def rate(name): return rows[name]["tiles_per_s"]
figures = rows["figures"]["features"]
carcinoma, mitosis = figures["Carcinoma"], figures["Mitosis"]
print()
print(f"{'ratio':52} {'value':>8}  target")
print(f"{'analysis / bare ONNX Runtime (tiles/s)':52} {rate('analysis') / rate('ort'):8.3f}  >= 0.8")
print(f"{'PackagedModel.Predict / bare ONNX Runtime (tiles/s)':52} {rate('predict') / rate('ort'):8.3f}  (preprocessing and softmax cost)")
print(f"{'analysis / PackagedModel.Predict (tiles/s)':52} {rate('analysis') / rate('predict'):8.3f}  (reading, tissue, hashing cost)")
print(f"{'Carcinoma share_of_tissue':52} {carcinoma['share_of_tissue']:8.3f}")
print(f"{'Mitosis searched_share':52} {mitosis['searched_share']:8.3f}  close to the carcinoma share, < 1")
print(f"{'Mitosis windows_seen / tissue_windows':52} {mitosis['windows_seen'] / mitosis['tissue_windows']:8.3f}"
      f"  ({mitosis['windows_seen']:.0f} / {mitosis['tissue_windows']:.0f})")
small = rows["memory-small"]
print(f"{'peak RSS, whole ' + str(small['slide_width']) + '² analysis, ' + str(small['tiles']) + ' tiles (MB)':52} {small['peak_rss_mb']:8.0f}")
if "memory-large" in rows:
    large = rows["memory-large"]
    print(f"{'peak RSS, ' + str(large['slide_width']) + '² analysis cancelled after ' + str(large['tiles']) + ' tiles (MB)':52} {large['peak_rss_mb']:8.0f}")
    print(f"{'peak RSS large / small':52} {large['peak_rss_mb'] / small['peak_rss_mb']:8.3f}  flat: about 1")
PY
