#!/usr/bin/env bash
# Serving benchmark (issue 15): the demo's held-out 8192² slide and its 4 training slides analysed through lamina-serve
# (on a throw-away RabbitMQ started here) against `lamina analyze`, one process per slide, in the same script: slides
# per hour one request at a time and all queued at once (target: service overhead < 5 %); per request the fixed cost
# (total − inference, and its parts) against the analysis time (target < 10 % on the held-out slide); the service's
# steady throughput against a bare ONNX Runtime loop on the same models and tile counts (target ≥ 0.8); the service's
# memory over 20 analyses in a row (flat). Prints JSON lines, then ratios; nothing here gates.
#   bench/serve.sh    the demo made once by bench/analyze.sh's set-up (~10 minutes)
source "$(dirname "$0")/common.sh"
source bench/rabbitmq-server.sh
build
analyze_setup
here=$data/serve
rm -rf "$here"
mkdir -p "$here"
bundle=$demo/bundle
config=$bundle/analysis.yaml
slides=("$demo/held-out/slide-held-out.tif" "$demo"/normalization-test/slides/slide-00{0..3}.tif)
results=$here/results.jsonl
: > "$results"

emit() { echo "$1" | tee -a "$results"; }
load() { emit "{\"name\": \"load\", \"when\": \"$1\", \"loadavg\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}"; }

# The baseline: what an operator runs today, one `lamina analyze` process per slide, timed from outside.
baseline() {
  for slide in "${slides[@]}"; do
    local out=$here/analyze-$1/$(basename "$slide" .tif) start end
    start=$(date +%s.%N)
    ./lamina analyze "$slide" --config "$config" --out "$out" > /dev/null
    end=$(date +%s.%N)
    emit "$(python3 - "$out/report.json" "$1" "$start" "$end" <<'PY'
import json, os, sys
report = json.load(open(sys.argv[1]))
print(json.dumps({"name": "analyze", "round": int(sys.argv[2]), "slide": os.path.basename(report["slide"]["path"]),
                  "seconds": float(sys.argv[4]) - float(sys.argv[3]), "analysis": report["timing"]["seconds"],
                  "inference": sum(m["inference_seconds"] for m in report["models"].values()),
                  "tiles": sum(m["tiles_seen"] for m in report["models"].values())}))
PY
)"
  done
}

serve_stop() {
  if [ -n "${SERVE_PID:-}" ] && kill -0 "$SERVE_PID" 2>/dev/null; then
    kill -TERM "$SERVE_PID"
    wait "$SERVE_PID" || true
  fi
  SERVE_PID=""
}

echo "serving benchmark: ${#slides[@]} slides ($(nproc) cores)"
load start
echo "baseline: lamina analyze, one process per slide"
baseline 1

rmq_start
trap 'serve_stop; rmq_stop' EXIT
http=http://127.0.0.1:$(free_port)
# The machine is shared, and other work stops lamina-serve processes by name (twice in a run on 2026-12-02): the same
# build runs from a copy named bench-service.dll.
cp -r src/Lamina.Serve/bin/Release/net10.0 "$here/service"
for file in dll runtimeconfig.json deps.json; do mv "$here/service/lamina-serve.$file" "$here/service/bench-service.$file"; done
start=$(date +%s.%N)
dotnet "$here/service/bench-service.dll" --bundle "$bundle" --broker "$RMQ_URI" --http "$http" \
  --instance lamina-bench > "$here/serve.log" 2>&1 &
SERVE_PID=$!
until curl -sf "$http/health/ready" > /dev/null; do
  if ! kill -0 "$SERVE_PID" 2>/dev/null; then echo "error: lamina-serve stopped; see $here/serve.log" >&2; tail -5 "$here/serve.log" >&2; exit 1; fi
  sleep 0.2
done
emit "{\"name\": \"serve-ready\", \"seconds\": $(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")}"

echo "the service: one at a time, all queued, 20 in a row (bare ONNX Runtime before and after)"
bench serve --broker "$RMQ_URI" --metrics "$http" --config "$config" --out "$here/serve-out" --memory-runs 20 "${slides[@]}" | tee -a "$results"
serve_stop

echo "baseline again, after the service stopped"
baseline 2
load end

python3 - "$results" <<'PY'
import json, statistics, sys
rows = list(map(json.loads, open(sys.argv[1])))
def where(**keys): return [r for r in rows if all(r.get(k) == v for k, v in keys.items())]
held_out = where(name="request", phase="sequential")[0]["slide"]
slides = [r["slide"] for r in where(name="request", phase="sequential")]

print()
print(f"load average (1, 5, 15 min): start {where(name='load', when='start')[0]['loadavg']}, end {where(name='load', when='end')[0]['loadavg']}")
print(f"service start (bundle verified, models loaded and warmed up): {where(name='serve-ready')[0]['seconds']:.1f} s")
print()
print("per request, seconds: lamina analyze's process (the better round) and what it spent outside inference; the service's")
print("timings one at a time, in brackets the median of the 20-in-a-row runs of that slide; fixed = total - inference")
print(f"{'slide':22} {'analyze':>8} {'an.-inf':>8} {'total':>14} {'inference':>14} {'fixed':>14} {'anal-inf':>14} {'write':>12} {'queue':>12} {'fixed/anal':>14}")
for slide in slides:
    one = where(name="request", phase="sequential", slide=slide)[0]
    many = where(name="request", phase="memory", slide=slide)
    def both(f, digits=2):
        median = statistics.median(map(f, many)) if many else float("nan")
        return f"{f(one):.{digits}f} ({median:.{digits}f})"
    fixed = lambda r: r["total"] - r["inference"]
    cli = min(r["seconds"] for r in where(name="analyze", slide=slide))
    cli_fixed = min(r["seconds"] - r["inference"] for r in where(name="analyze", slide=slide))
    print(f"{slide:22} {cli:8.2f} {cli_fixed:8.2f} {both(lambda r: r['total']):>14} {both(lambda r: r['inference']):>14} {both(fixed):>14}"
          f" {both(lambda r: r['analysis'] - r['inference']):>14} {both(lambda r: r['write']):>12} {both(lambda r: r['queue_wait']):>12}"
          f" {both(lambda r: fixed(r) / r['analysis'], 3):>14}")

def per_hour(round_):
    runs = where(name="analyze", round=round_)
    return len(runs) / sum(r["seconds"] for r in runs) * 3600
baselines = [per_hour(1), per_hour(2)]
baseline = max(baselines)
phase = {p: where(name="phase", phase=p)[0] for p in ("sequential", "queued", "memory")}
ort = max(r["tiles_per_s"] for r in where(name="ort"))
held = [r for r in where(name="request", slide=held_out) if r["phase"] in ("sequential", "memory")]
best_analysis = max(r["tiles"] / r["analysis"] for r in held)
best_inference = max(r["tiles"] / r["inference"] for r in held)
first = held[0]
memory = where(name="memory")
rss = [m["rss_mb"] for m in memory]
print()
print(f"slides per hour: lamina analyze {baselines[0]:.0f} before, {baselines[1]:.0f} after (the better is the baseline);"
      f" service one at a time {phase['sequential']['slides_per_hour']:.0f}, all queued {phase['queued']['slides_per_hour']:.0f},"
      f" 20 in a row {phase['memory']['slides_per_hour']:.0f}")
def inference(rs): return sum(r["inference"] for r in rs)
print(f"inference seconds over the 5 slides (what the machine's load moves): lamina analyze {inference(where(name='analyze', round=1)):.1f},"
      f" {inference(where(name='analyze', round=2)):.1f}; service one at a time {inference(where(name='request', phase='sequential')):.1f},"
      f" all queued {inference(where(name='request', phase='queued')):.1f}, 20 in a row {inference(where(name='request', phase='memory')) / 4:.1f} per cycle")
print()
print(f"{'ratio':62} {'value':>8}  target")
for name, label in (("sequential", "one at a time"), ("queued", "all queued"), ("memory", "20 in a row")):
    ratio = phase[name]["slides_per_hour"] / baseline
    print(f"{'slides/h, service (' + label + ') / lamina analyze':62} {ratio:8.3f}  >= 0.95 (overhead {max(0, 1 - ratio):.1%})")
print(f"{'(total - inference) / analysis, ' + held_out + ', first request':62} {(first['total'] - first['inference']) / first['analysis']:8.3f}  < 0.10")
steady = statistics.median((r["total"] - r["inference"]) / r["analysis"] for r in held[1:])
print(f"{'(total - inference) / analysis, ' + held_out + ', median of the rest':62} {steady:8.3f}  < 0.10")
print(f"{'service analysis / bare ONNX Runtime (tiles/s, best of each)':62} {best_analysis / ort:8.3f}  >= 0.8")
print(f"{'service inference only / bare ONNX Runtime (tiles/s)':62} {best_inference / ort:8.3f}")
print(f"{'  (bare ONNX Runtime ' + format(ort, '.1f') + ' tiles/s; service analysis ' + format(best_analysis, '.1f') + ', inference ' + format(best_inference, '.1f') + ')':62}")
print(f"{'RSS after each of 20 analyses: first, max, last (MB)':62} {rss[0]:.0f}, {max(rss):.0f}, {rss[-1]:.0f}")
print(f"{'RSS last / first':62} {rss[-1] / rss[0]:8.3f}  flat: about 1")
print(f"{'peak RSS after 20 / after 1 (' + format(memory[-1]['peak_rss_mb'], '.0f') + ' / ' + format(memory[0]['peak_rss_mb'], '.0f') + ' MB)':62} {memory[-1]['peak_rss_mb'] / memory[0]['peak_rss_mb']:8.3f}  flat: about 1")
PY
