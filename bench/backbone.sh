#!/usr/bin/env bash
# Backbone throughput (issue 4, item 9): Backbone.Embed (HWC to NCHW conversion and normalisation included) against a
# bare ONNX Runtime loop over ready NCHW tensors of the same graph and batch size, in one process, interleaved rounds,
# best of 3; and the batched graph against the shipped batch-1 graph. Prints ratios; nothing here is a pass/fail gate.
#   bench/backbone.sh [--tiles 64] [--batches 1,8,16,32] [--threads N] [--model resnet18|FILE.onnx]
source "$(dirname "$0")/common.sh"
build
results="$data/backbone.jsonl"
echo "backbone throughput, $(nproc) cores"
bench backbone "$@" | tee "$results"

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
rate = {r["name"]: r["tiles_per_s"] for r in rows}
batches = sorted({r["batch"] for r in rows})
print()
print(f"{'ratio':44} {'value':>8}")
for b in batches:
    print(f"{f'Lamina / bare ONNX Runtime, batch {b}':44} {rate[f'lamina-b{b}'] / rate[f'ort-b{b}']:8.3f}")
if 1 in batches:
    for b in batches:
        if b != 1:
            print(f"{f'batched {b} / batch 1 (Lamina)':44} {rate[f'lamina-b{b}'] / rate['lamina-b1']:8.3f}")
PY
