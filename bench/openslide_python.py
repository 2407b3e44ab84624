#!/usr/bin/env python3
"""The openslide-python baseline: read the same tiles as the .NET benchmark, in the same order, one thread."""
import json
import sys
import time

import openslide


def main() -> None:
    slide_path, tile_list, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(tile_list, encoding="utf-8") as handle:
        tiles = [tuple(int(v) for v in line.split()) for line in handle if line.strip()]
    slide = openslide.OpenSlide(slide_path)
    for x, y in tiles[:50]:  # warm-up, as the .NET side does
        slide.read_region((x, y), 0, (size, size))
    best = None
    for _ in range(2):
        start = time.perf_counter()
        for x, y in tiles:
            slide.read_region((x, y), 0, (size, size))
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    print(json.dumps({"name": "openslide-python-1", "tiles": len(tiles), "seconds": best, "tiles_per_s": len(tiles) / best}))


if __name__ == "__main__":
    main()
