#!/usr/bin/env bash
# Slide tiling benchmark (issue 3): Lamina's tile pipeline against raw openslide_read_region in the same process and
# openslide-python in the same script, on one thread and on all cores, and Lamina's peak memory on a whole slide.
# Prints ratios; nothing here is a pass/fail gate.
#   bench/slide-tiling.sh            10,000² and 20,000² synthetic slides (a few minutes)
#   bench/slide-tiling.sh --large    also 100,000² for peak memory (generating it takes about 20 minutes on 2 cores)
source "$(dirname "$0")/common.sh"
require_python_module openslide python3-openslide
build
slide_of() { # size → path, generated once
  local dir="$data/s$1"
  [ -f "$dir/slide-000.tif" ] || ./lamina synth --out "$dir" --slides 1 --size "$1x$1" --seed 1 --json >/dev/null
  echo "$dir/slide-000.tif"
}

results="$data/results.jsonl"
: > "$results"
throughput=$(slide_of 20000)
echo "throughput on $throughput (256-pixel tiles at level 0, $(nproc) cores)"
bench tiling "$throughput" --size 256 --tiles 1500 --tile-list "$data/tiles.txt" | tee -a "$results"
/usr/bin/python3 bench/openslide_python.py "$throughput" "$data/tiles.txt" 256 | tee -a "$results"
sizes=(10000)
[ "${1:-}" = "--large" ] && sizes+=(100000)
for size in "${sizes[@]}"; do
  slide=$(slide_of "$size")
  echo "peak memory on $slide"
  bench memory "$slide" --size 256 | sed "s/\"name\":\"lamina-memory\"/\"name\":\"lamina-memory-$size\"/" | tee -a "$results"
done

python3 - "$results" "$(nproc)" <<'PY'
import json, sys
rows = {r["name"]: r for r in map(json.loads, open(sys.argv[1]))}
n = sys.argv[2]
def rate(name): return rows[name]["tiles_per_s"]
print()
print(f"{'ratio':48} {'value':>8}  target")
print(f"{'Lamina / raw OpenSlide, 1 thread':48} {rate('lamina-1') / rate('raw-1'):8.3f}  >= 0.95")
print(f"{'Lamina ' + n + ' readers / Lamina 1 reader':48} {rate('lamina-' + n) / rate('lamina-1'):8.3f}  >= 1.8 on 2 cores")
print(f"{'raw OpenSlide ' + n + ' threads / raw 1 thread':48} {rate('raw-' + n) / rate('raw-1'):8.3f}  (what the hardware allows)")
print(f"{'Lamina ' + n + ' readers / raw ' + n + ' threads':48} {rate('lamina-' + n) / rate('raw-' + n):8.3f}")
print(f"{'Lamina 1 thread / openslide-python 1 thread':48} {rate('lamina-1') / rate('openslide-python-1'):8.3f}")
for name, row in rows.items():
    if name.startswith("lamina-memory"):
        print(f"{'peak RSS, whole ' + str(row['slide_width']) + '² slide (MB)':48} {row['peak_rss_mb']:8.0f}  < 500")
PY
