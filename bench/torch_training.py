#!/usr/bin/env python3
"""The PyTorch baseline: the same MLP, data, batch size, optimiser and epochs as `Lamina.Bench training`, on CPU."""
import json
import sys
import time

import numpy as np
import torch


def main() -> None:
    data, rows, dim, epochs, batch, threads = sys.argv[1], *map(int, sys.argv[2:7])
    torch.set_num_threads(threads)
    raw = np.fromfile(data, dtype=np.float32, count=rows * dim).reshape(rows, dim)
    labels = np.fromfile(data, dtype=np.int32, offset=rows * dim * 4, count=rows)
    x, y = torch.from_numpy(raw), torch.from_numpy(labels.astype(np.int64))
    validation = max(1, rows // 10)
    best = None
    for _ in range(2):
        torch.manual_seed(1)
        model = torch.nn.Sequential(torch.nn.Linear(dim, 256), torch.nn.ReLU(), torch.nn.Linear(256, 2))
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()
        generator = torch.Generator().manual_seed(1)
        start = time.perf_counter()
        for _ in range(epochs):
            model.train()
            order = torch.randperm(rows, generator=generator)
            train_loss = 0.0
            for first in range(0, rows, batch):
                index = order[first:first + batch]
                optimiser.zero_grad()
                loss = loss_fn(model(x[index]), y[index])
                loss.backward()
                optimiser.step()
                train_loss += loss.item()
            model.eval()
            with torch.no_grad():  # the validation pass Lamina's trainer makes every epoch
                loss_fn(model(x[:validation]), y[:validation]).item()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    print(json.dumps({"name": f"torch-train-{threads}", "rows": rows, "epochs": epochs, "seconds": best, "epochs_per_s": epochs / best}))


if __name__ == "__main__":
    main()
