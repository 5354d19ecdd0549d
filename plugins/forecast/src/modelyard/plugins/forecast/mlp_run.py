"""Training the `mlp` model epoch by epoch, with checkpoints that resume exactly (model, Adam, the cosine schedule,
the shuffling generator) and the export of the best epoch's weights. Called by `train.Run`."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
import torch

from modelyard.plugins.forecast import VERSION, metrics
from modelyard.plugins.forecast.mlp import build, to_onnx_bytes
from modelyard.plugins.forecast.windows import Prepared

if TYPE_CHECKING:
    from modelyard.plugins.forecast.train import Run


def device_of(name: str) -> torch.device:
    """The job's device: "cpu", "cuda:N", or GPU indices "0" / "0,1" (the first is used)."""
    if name == "cpu" or name.startswith("cuda"):
        return torch.device(name)
    return torch.device(f"cuda:{name.split(',')[0]}")


def load_checkpoint(path: Path) -> dict[str, Any]:
    data = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a forecast checkpoint")
    return data


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Atomically: a reader (the trainer uploading last.pt) never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def train(run: Run, prepared: Prepared, resume: dict[str, Any] | None) -> tuple[Any, str]:
    """Train (or finish) and return (the best weights as an onnx.ModelProto, framework version)."""
    from modelyard.frameworks.protocol import Started
    from modelyard.plugins.forecast.train import CHECKPOINT_FORMAT, epoch_metrics

    config, spec = run.config, prepared.spec
    epochs, batch, shuffle = int(config["epochs"]), int(config["batch"]), bool(config["shuffle"])
    device = device_of(run.job.device)
    torch.manual_seed(int(config["seed"]))
    model = build(config, spec.input_size, spec.output_size).to(device)
    lr0 = float(config["lr0"])
    optimizer = torch.optim.Adam(model.parameters(), lr=lr0, weight_decay=float(config["weight_decay"]))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=lr0 * float(config["lrf"]))
    generator = torch.Generator().manual_seed(int(config["seed"]))
    start = 0
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        scheduler.load_state_dict(resume["scheduler"])
        generator.set_state(resume["generator"])
        start = int(resume["epoch"])
    weights = run.weights

    if start >= epochs:
        run.writer.emit(Started(epochs=epochs, resumed_from_epoch=start))
        run.log("the checkpoint holds a finished training: exporting it")
    else:
        run.writer.emit(Started(epochs=epochs, resumed_from_epoch=start or None))
        x = torch.tensor(prepared.train.x, dtype=torch.float32, device=device)
        y = torch.tensor(prepared.train.y, dtype=torch.float32, device=device)
        x_val = torch.tensor(prepared.val.x, dtype=torch.float32, device=device)
        loss_fn = torch.nn.MSELoss()
        run.switch.immediate = False  # from now on a cancel waits for the next batch boundary
        run.switch.check()
        for epoch in range(start + 1, epochs + 1):
            began = time.monotonic()
            model.train()
            order = torch.randperm(len(x), generator=generator) if shuffle else torch.arange(len(x))
            total = 0.0
            for first in range(0, len(x), batch):
                index = order[first : first + batch].to(device)
                loss = loss_fn(model(x[index]), y[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.item()) * len(index)
                run.switch.check()
            lr = float(optimizer.param_groups[0]["lr"])
            scheduler.step()
            model.eval()
            with torch.no_grad():
                predicted = model(x_val).cpu().numpy().astype(np.float64)
            val_loss = float(np.mean((predicted - prepared.val.y) ** 2))
            values = dict(
                epoch_metrics(
                    total / len(x), val_loss, metrics.overall(prepared.val.y, predicted, prepared.mase_scale_scaled)
                )
            )
            values["lr/pg0"] = lr
            run.epoch_ended(epoch, epochs, values, time.monotonic() - began)
            improved = val_loss < run.best_val
            if improved:
                run.best_val = val_loss
            payload = {
                "format": CHECKPOINT_FORMAT,
                "kind": "mlp",
                "epoch": epoch,
                "epochs": epochs,
                "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "generator": generator.get_state(),
                "best_val": run.best_val,
                "best_epoch": epoch if improved else run.best_epoch,
                "spec": spec.to_dict(),
                "config": dict(config),
            }
            save_checkpoint(weights / "last.pt", payload)
            if improved:
                shutil.copyfile(weights / "last.pt", weights / "best.pt")
            run.checkpoint_saved(epoch, improved)
            run.switch.check()
        run.switch.immediate = True

    best = weights / "best.pt"
    if best.is_file():
        model.load_state_dict(load_checkpoint(best)["model"])
    proto = onnx.load_from_string(to_onnx_bytes(model, spec.input_size))
    return proto, f"modelyard-forecast {VERSION} (torch {torch.__version__})"
