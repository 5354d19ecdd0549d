"""The training loop of the regress child (torch): data, epochs, validation, checkpoints, resume, export.

Checkpoints (torch.save of plain dicts, read back with weights_only=True):
- last.pt, after every epoch: weights, optimiser, LR schedule, torch random state, the epoch it finished, the
  early-stopping state (best val MSE, best epoch, epochs without improvement, stopped) and the config;
- best.pt, after each epoch whose validation MSE is the lowest so far: weights, epoch, metrics and config.
Both are written to a temporary file and renamed, so a killed run leaves the previous complete file.

Shuffling and flips draw from a generator seeded with (seed, epoch), and dropout from torch's global generator,
whose state last.pt keeps: on the CPU a run resumed from last.pt goes on exactly as the uninterrupted run would have
(on a GPU it goes on from the same state, but CUDA kernels and their generator are not made bit-reproducible).
"""

from __future__ import annotations

import csv
import hashlib
import importlib.metadata
import math
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from modelyard.frameworks.cancel import CancelSwitch
from modelyard.frameworks.jobspec import TrainJobSpec
from modelyard.frameworks.protocol import (
    ArtifactWritten,
    CheckpointSaved,
    Completed,
    EpochEnded,
    EventWriter,
    Exported,
    LogLine,
    Metrics,
    Started,
    clean_metrics,
)
from modelyard.plugins.regress import metrics as scores
from modelyard.plugins.regress import preprocess
from modelyard.plugins.regress.control import Progress
from modelyard.plugins.regress.data import Dataset, Sample
from modelyard.plugins.regress.export import export_onnx
from modelyard.plugins.regress.model import (
    RatingNet,
    build_loss,
    build_model,
    build_optimizer,
    build_scheduler,
    torch_device,
)

CHECKPOINT_FORMAT = "modelyard-regress/1"
PRELOAD_LIMIT_BYTES = 512 * 1024 * 1024  # decoded inputs up to this size are kept in memory for the whole run
PREDICTIONS_ARTIFACT = "val_predictions.csv"


def framework_version() -> str:
    return f"modelyard-regress {importlib.metadata.version('modelyard-regress')} (torch {torch.__version__})"


# ---- data -----------------------------------------------------------------------------------------------------------


class Frames:
    """Rated frames as model inputs: decoded once into memory when they fit PRELOAD_LIMIT_BYTES, else per use."""

    def __init__(
        self, samples: tuple[Sample, ...], imgsz: int, workers: int = 0, switch: CancelSwitch | None = None
    ) -> None:
        self.samples = samples
        self.imgsz = imgsz
        self.targets = torch.tensor([s.target for s in samples], dtype=torch.float32)
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="regress-frames") if workers > 0 else None
        self._inputs: Any = None
        if len(samples) * 3 * imgsz * imgsz * 4 <= PRELOAD_LIMIT_BYTES:
            inputs = torch.empty(len(samples), 3, imgsz, imgsz, dtype=torch.float32)
            for start in range(0, len(samples), 64):
                if switch is not None:
                    switch.check()
                chunk = list(range(start, min(start + 64, len(samples))))
                inputs[chunk] = self._stack(chunk)
            self._inputs = inputs
            self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def _stack(self, indices: list[int]) -> Any:
        """The prepared inputs of `indices` as one (N, 3, imgsz, imgsz) tensor, decoded on the worker threads if any
        (PIL releases the GIL while it decodes and resizes)."""
        arrays = (
            list(self._pool.map(self._prepare, indices))
            if self._pool is not None
            else [self._prepare(i) for i in indices]
        )
        return torch.from_numpy(np.stack(arrays))

    def __len__(self) -> int:
        return len(self.samples)

    def _prepare(self, index: int) -> Any:
        sample = self.samples[index]
        try:
            return preprocess.prepare(preprocess.load(sample.path), self.imgsz)
        except preprocess.NotAnImage as error:
            raise preprocess.NotAnImage(f"{sample.path.name}: {error}") from error

    def batch(self, indices: Any) -> tuple[Any, Any]:
        index_list = [int(i) for i in indices]
        images = self._inputs[index_list] if self._inputs is not None else self._stack(index_list)
        return images, self.targets[index_list]

    def batches(self, size: int, generator: Any = None) -> Iterator[tuple[Any, Any]]:
        """(images, targets) in batches of `size`; shuffled when a generator is given."""
        order = torch.randperm(len(self), generator=generator) if generator is not None else torch.arange(len(self))
        for start in range(0, len(self), size):
            yield self.batch(order[start : start + size])


def _flip(images: Any, p_lr: float, p_ud: float, generator: Any) -> Any:
    n = images.shape[0]
    lr = torch.rand(n, generator=generator) < p_lr
    ud = torch.rand(n, generator=generator) < p_ud
    if bool(lr.any()):
        images[lr] = images[lr].flip(-1)
    if bool(ud.any()):
        images[ud] = images[ud].flip(-2)
    return images


def _epoch_generator(seed: int, epoch: int) -> Any:
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch) % (2**63))


# ---- state ----------------------------------------------------------------------------------------------------------


@dataclass
class EarlyStop:
    best_mse: float = math.inf
    best_epoch: int | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)
    bad_epochs: int = 0
    stopped: bool = False

    def update(self, epoch: int, val: dict[str, float], patience: int) -> bool:
        """Record an epoch's validation; True when it is the best so far (lowest MSE; NaN never is)."""
        improved = math.isfinite(val["mse"]) and val["mse"] < self.best_mse
        if improved:
            self.best_mse, self.best_epoch, self.best_metrics, self.bad_epochs = val["mse"], epoch, dict(val), 0
        else:
            self.bad_epochs += 1
        self.stopped = patience > 0 and self.bad_epochs >= patience
        return improved

    def to_dict(self) -> dict[str, Any]:
        return {
            "best_mse": self.best_mse,
            "best_epoch": self.best_epoch,
            "best_metrics": self.best_metrics,
            "bad_epochs": self.bad_epochs,
            "stopped": self.stopped,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EarlyStop:
        return cls(
            best_mse=float(data["best_mse"]),
            best_epoch=data["best_epoch"],
            best_metrics={str(k): float(v) for k, v in data["best_metrics"].items()},
            bad_epochs=int(data["bad_epochs"]),
            stopped=bool(data["stopped"]),
        )


def _save(payload: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a regress checkpoint ({CHECKPOINT_FORMAT})")
    return checkpoint


def load_model(path: Path) -> tuple[RatingNet, dict[str, Any]]:
    """The network in a last.pt or best.pt, in eval mode, and the config it was trained with."""
    checkpoint = load_checkpoint(path)
    config = dict(checkpoint["config"])
    model = build_model(config)
    model.load_state_dict(checkpoint["model"])
    return model.eval(), config


def _cpu_state(model: Any) -> dict[str, Any]:
    return {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}


# ---- one pass -------------------------------------------------------------------------------------------------------


def predict(model: Any, frames: Frames, batch: int, device: Any, switch: CancelSwitch | None = None) -> Any:
    """The model's ratings for every frame, in order, as a float64 numpy array."""
    model.eval()
    out = []
    with torch.no_grad():
        for images, _ in frames.batches(batch):
            if switch is not None:
                switch.check()
            out.append(model(images.to(device)).squeeze(1).to("cpu"))
    return torch.cat(out).double().numpy() if out else np.zeros(0)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Training:
    def __init__(
        self,
        spec: TrainJobSpec,
        config: dict[str, Any],
        dataset: Dataset,
        writer: EventWriter,
        switch: CancelSwitch,
        progress: Progress,
    ) -> None:
        self.spec, self.writer, self.switch, self.progress = spec, writer, switch, progress
        self.dataset = dataset
        self.workdir = Path(spec.workdir).resolve()
        self.weights = self.workdir / "weights"
        self.last_path, self.best_path = self.weights / "last.pt", self.weights / "best.pt"
        self.checkpoint: dict[str, Any] | None = None
        if spec.resume_from is not None:
            self.checkpoint = load_checkpoint(Path(spec.resume_from))
            config = dict(self.checkpoint["config"])  # the job's config as its first attempt trained with it
        self.config = config
        self.epochs, self.imgsz = int(config["epochs"]), int(config["imgsz"])
        self.device = torch_device(spec.device)

    def log(self, line: str, level: Literal["info", "warning", "error"] = "info") -> None:
        self.writer.emit(LogLine(line=line, level=level))

    # -- the run ----------------------------------------------------------------------------------------------------

    def run(self) -> None:
        self.weights.mkdir(parents=True, exist_ok=True)
        checkpoint = self.checkpoint
        if checkpoint is not None and (int(checkpoint["epoch"]) >= self.epochs or checkpoint["early_stop"]["stopped"]):
            self._finish_from_checkpoint(checkpoint)
            return
        config = self.config
        torch.manual_seed(int(config["seed"]))
        model = build_model(config).to(self.device)
        optimizer = build_optimizer(model, config)
        scheduler = build_scheduler(optimizer, config)
        stop = EarlyStop()
        start = 0
        carried = False
        if checkpoint is not None:
            model.load_state_dict(checkpoint["model"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            scheduler.load_state_dict(checkpoint["scheduler"])
            torch.set_rng_state(checkpoint["rng"])
            stop = EarlyStop.from_dict(checkpoint["early_stop"])
            start = int(checkpoint["epoch"])
            self.progress.last_epoch = start
            carried = self._carry_best()
            if not carried:
                stop = EarlyStop(bad_epochs=stop.bad_epochs)  # best.pt is gone: the next epoch becomes the best
        self.writer.emit(Started(epochs=self.epochs, resumed_from_epoch=start if checkpoint is not None else None))
        if checkpoint is not None:
            self.log(f"resuming from {self.spec.resume_from} (epoch {start} done)")
            if not carried:
                self.log("the earlier attempt's best.pt is not beside last.pt: best restarts here", "warning")

        train_set, val_set = self._frames()
        loss_fn = build_loss(config)
        batch = int(config["batch"])
        self.switch.immediate = False  # from here a cancel waits for the next batch boundary
        for epoch in range(start + 1, self.epochs + 1):
            began = time.perf_counter()
            lr = float(optimizer.param_groups[0]["lr"])
            train_loss = self._train_epoch(model, optimizer, loss_fn, train_set, batch, epoch)
            scheduler.step()
            predicted = predict(model, val_set, batch, self.device, self.switch)
            targets = val_set.targets.double().numpy()
            val_loss = float(loss_fn(torch.from_numpy(predicted), torch.from_numpy(targets)))
            val = scores.evaluate(predicted, targets)
            improved = stop.update(epoch, val, int(config["patience"]))
            metrics = {
                "train/loss": train_loss,
                "val/loss": val_loss,
                "val/mse": val["mse"],
                "val/mae": val["mae"],
                "val/spearman": val["spearman"],
                "lr": lr,
            }
            self.writer.emit(
                EpochEnded(
                    epoch=epoch,
                    epochs=self.epochs,
                    metrics=clean_metrics(metrics),
                    epoch_time_s=time.perf_counter() - began,
                )
            )
            state = _cpu_state(model)
            _save(
                {
                    "format": CHECKPOINT_FORMAT,
                    "epoch": epoch,
                    "epochs": self.epochs,
                    "model": state,
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "rng": torch.get_rng_state(),
                    "early_stop": stop.to_dict(),
                    "metrics": {k: float(v) for k, v in metrics.items()},
                    "config": dict(config),
                },
                self.last_path,
            )
            self._checkpoint_event("last", self.last_path, epoch)
            if improved:
                best = {"format": CHECKPOINT_FORMAT, "epoch": epoch, "model": state, "config": dict(config)}
                _save(best | {"metrics": dict(val)}, self.best_path)
                self._checkpoint_event("best", self.best_path, epoch)
            self.progress.epoch_done(epoch)
            if stop.stopped:
                self.log(f"stopping early: no lower validation MSE for {stop.bad_epochs} epochs")
                break
            self.switch.check()
        self.switch.immediate = True  # training is over: a cancel now needs no care
        self.switch.check()
        train_set.close()
        self._finish(stop.best_epoch, stop.best_metrics, val_set)
        val_set.close()

    def _train_epoch(self, model: Any, optimizer: Any, loss_fn: Any, frames: Frames, batch: int, epoch: int) -> float:
        model.train()
        generator = _epoch_generator(int(self.config["seed"]), epoch)
        fliplr, flipud = float(self.config["fliplr"]), float(self.config["flipud"])
        total, count = 0.0, 0
        for images, targets in frames.batches(batch, generator):
            self.switch.check()
            images = _flip(images.clone(), fliplr, flipud, generator).to(self.device)
            targets = targets.to(self.device)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(images).squeeze(1), targets)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(targets)
            count += len(targets)
        return total / max(count, 1)

    def _frames(self) -> tuple[Frames, Frames]:
        train, val = self.dataset.train, self.dataset.val
        unrated = train.unrated + val.unrated
        self.log(
            f"{len(train.samples)} train and {len(val.samples)} val rated frames at {self.imgsz} px"
            + (f"; {unrated} unrated frames left out" if unrated else "")
        )
        workers = int(self.config["workers"])
        train_set = Frames(train.samples, self.imgsz, workers, self.switch)
        if not val.samples:
            self.log("the val split has no rated frames: validating on the train split", "warning")
            return train_set, train_set
        return train_set, Frames(val.samples, self.imgsz, workers, self.switch)

    def _carry_best(self) -> bool:
        """Resuming into another workdir: bring the earlier attempt's best.pt along, so that best.pt stays the best
        of the whole job even if no later epoch beats it."""
        if self.spec.resume_from is None:
            return False
        source = Path(self.spec.resume_from).with_name("best.pt")
        if not source.is_file():
            return False
        if source.resolve() != self.best_path.resolve():
            shutil.copyfile(source, self.best_path)
        return True

    def _checkpoint_event(self, kind: Literal["last", "best"], path: Path, epoch: int) -> None:
        self.writer.emit(CheckpointSaved(kind=kind, path=str(path), epoch=epoch, size=path.stat().st_size))

    # -- the end ----------------------------------------------------------------------------------------------------

    def _finish_from_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The earlier attempt finished training but died before reporting completion: export, do not train."""
        epoch = int(checkpoint["epoch"])
        self.progress.last_epoch = epoch
        self.writer.emit(Started(epochs=self.epochs, resumed_from_epoch=epoch))
        self.log(f"{self.spec.resume_from} holds a finished training (epoch {epoch}): exporting it")
        stop = EarlyStop.from_dict(checkpoint["early_stop"])
        if not self._carry_best():
            _save(checkpoint, self.best_path)  # no best.pt came along: the final weights are what there is
            stop = EarlyStop(best_epoch=epoch, best_metrics=self._val_of(checkpoint))
        dataset = self.dataset.val if self.dataset.val.samples else self.dataset.train
        self._finish(stop.best_epoch, stop.best_metrics, Frames(dataset.samples, self.imgsz, 0, self.switch))

    @staticmethod
    def _val_of(checkpoint: dict[str, Any]) -> dict[str, float]:
        m = checkpoint.get("metrics") or {}
        return {name: float(m[f"val/{name}"]) for name in ("mse", "mae", "spearman") if f"val/{name}" in m}

    def _finish(self, best_epoch: int | None, best_metrics: dict[str, float], val_set: Frames) -> None:
        source = self.best_path if self.best_path.is_file() else self.last_path
        model, _ = load_model(source)
        onnx_path = export_onnx(
            model, self.imgsz, self.workdir / "model.onnx", {"framework_version": framework_version()}
        )
        self.writer.emit(
            Exported(format="onnx", path=str(onnx_path), size=onnx_path.stat().st_size, sha256=_sha256(onnx_path))
        )
        table = self._write_predictions(model, val_set)
        self.writer.emit(
            ArtifactWritten(
                name=PREDICTIONS_ARTIFACT, path=str(table), size=table.stat().st_size, sha256=_sha256(table)
            )
        )
        final: Metrics = clean_metrics(best_metrics)
        self.writer.emit(Completed(best_epoch=best_epoch, metrics=final, framework_version=framework_version()))

    def _write_predictions(self, model: Any, frames: Frames) -> Path:
        """The best model's rating of every validation frame beside its target: where it is wrong, at a glance."""
        predicted = predict(model.to("cpu"), frames, int(self.config["batch"]), torch.device("cpu"))
        path = self.workdir / PREDICTIONS_ARTIFACT
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["name", "target", "predicted", "abs_error"])
            for sample, value in zip(frames.samples, predicted, strict=True):
                error = abs(float(value) - sample.target)
                writer.writerow([sample.path.name, f"{sample.target:.6f}", f"{float(value):.6f}", f"{error:.6f}"])
        return path


def train(
    spec: TrainJobSpec,
    config: dict[str, Any],
    dataset: Dataset,
    writer: EventWriter,
    switch: CancelSwitch,
    progress: Progress,
) -> None:
    Training(spec, config, dataset, writer, switch, progress).run()
