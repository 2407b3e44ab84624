#!/usr/bin/env bash
# Head training benchmark (issue 4): Lamina's head trainer against PyTorch on CPU (Debian python3-torch) for the same
# MLP, data, batch size, optimiser and epochs, in the same script; and a training run on cached embeddings against the
# first one that computed them. Prints ratios; nothing here is a pass/fail gate.
source "$(dirname "$0")/common.sh"
require_python_module torch python3-torch
build
results="$data/training.jsonl"
: > "$results"
rows=10000 dim=512 epochs=5 batch=64 threads=$(nproc)
bench training --rows $rows --dim $dim --epochs $epochs --batch $batch --threads "$threads" --data "$data/embeddings.bin" | tee -a "$results"
/usr/bin/python3 bench/torch_training.py "$data/embeddings.bin" $rows $dim $epochs $batch "$threads" | tee -a "$results"

# A real training task twice: the first computes ResNet-18 embeddings, the second finds them all in the cache.
# Timed as the whole command and as the run's own duration (what the store records: no process start, no git capture).
repo="$(pwd)"
work="$repo/$data/training-task"
rm -rf "$work" && mkdir -p "$work"
export LAMINA_HOME="$work/home"
./lamina demo --out "$work" --no-training >/dev/null
( cd "$work/normalization-test" && "$repo/lamina" synth --out slides --slides 4 --size 8192x8192 --seed 1 --json >/dev/null )
for round in first second; do
  start=$(date +%s.%N)
  id=$(cd "$work/normalization-test" && "$repo/lamina" run simple_train --set tasks.simple_train.params.n_epochs=20 --json 2>/dev/null | python3 -c "import json,sys; print(json.load(sys.stdin)['runId'])")
  end=$(date +%s.%N)
  run_seconds=$("$repo/lamina" runs show "$id" --json | python3 -c "
import json, sys, datetime
r = json.load(sys.stdin)['run']
t = lambda s: datetime.datetime.fromisoformat(s.replace('Z', '+00:00'))
print((t(r['endedAt']) - t(r['startedAt'])).total_seconds())")
  echo "{\"name\": \"task-$round\", \"seconds\": $(echo "$end - $start" | bc), \"run_seconds\": $run_seconds}" | tee -a "$results"
done

python3 - "$results" <<'PY'
import json, sys
rows = {r["name"]: r for r in map(json.loads, open(sys.argv[1]))}
lamina = next(v for k, v in rows.items() if k.startswith("lamina-train"))
torch = next(v for k, v in rows.items() if k.startswith("torch-train"))
print()
print(f"{'ratio':52} {'value':>8}  target")
print(f"{'Lamina head training speed / PyTorch (same MLP, data)':52} {torch['seconds'] / lamina['seconds']:8.2f}  >= 1 (no slower)")
print(f"{'training task, first / cached embeddings (run duration)':52} {rows['task-first']['run_seconds'] / rows['task-second']['run_seconds']:8.1f}  >= 20")
print(f"{'training task, first / cached embeddings (whole command)':52} {rows['task-first']['seconds'] / rows['task-second']['seconds']:8.1f}")
PY
