"""The training child: `python -m modelyard.plugins.forecast.train --spec FILE` (as the trainer runs it), or
`python -m modelyard.plugins.forecast.train --data DATA_YAML --workdir DIR [--device cpu] key=value ...` (the
preset's command-line preview: the packaged preset with these values over it, each checked by the field table).

It speaks `modelyard.frameworks.protocol` on stdout:

    started
    per epoch: epoch, checkpoint last, checkpoint best (when the validation loss improved)
    exported (onnx), artifact (evaluation.json, evaluation.csv, violin_<variable>.png, forecast_<variable>.png)
    completed (metrics: mae, mape, mse, rmse, nrmse, wape, smape, mase on scaled values, and val_loss)

linear and svr train in one go: one epoch (1 of 1) whose metrics are the validation figures, then last.pt and
best.pt (the pickled estimator). mlp trains `epochs` epochs of Adam with a cosine learning-rate schedule;
last.pt holds model, optimizer, scheduler and shuffling state, and a job resumed from it (`resume_from`) goes on
with the next epoch (epoch numbers never repeat); a checkpoint of a finished training is exported, not trained
again. The model exported is best.pt's (the lowest validation loss), and the evaluation runs the exported ONNX
file itself on the validation windows.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt
import yaml

from modelyard.frameworks.cancel import CancelledRun, CancelSwitch
from modelyard.frameworks.fields import InvalidValue
from modelyard.frameworks.jobspec import TrainJobSpec
from modelyard.frameworks.presets import preset_values
from modelyard.frameworks.protocol import (
    EXIT_COMPLETED,
    EXIT_FAILED,
    EXIT_USAGE,
    ArtifactWritten,
    Cancelled,
    CheckpointSaved,
    Completed,
    EpochEnded,
    EventWriter,
    Exported,
    Failed,
    LogLine,
    Metrics,
    Started,
    clean_metrics,
    exit_code_for_signal,
)
from modelyard.plugins.forecast import TASK, VERSION, metrics, plots
from modelyard.plugins.forecast.features import ForecastSpec
from modelyard.plugins.forecast.presets import preset
from modelyard.plugins.forecast.series import load_dataset
from modelyard.plugins.forecast.windows import Prepared, prepare

CRASH_AFTER_EPOCH_ENV = "MODELYARD_TEST_CRASH_AFTER_EPOCH"  # tests only: SIGKILL itself after this epoch's checkpoints
CHECKPOINT_FORMAT = "modelyard.forecast/1"
WEIGHTS = "weights"

Array = npt.NDArray[np.float64]


# ---- configuration ---------------------------------------------------------------------------------------------


def resolve_config(given: Mapping[str, Any]) -> dict[str, Any]:
    """The packaged preset with `given` over it, each value checked by its field; unknown keys are refused."""
    task_preset = preset()
    values = preset_values(task_preset)
    problems = []
    for name, raw in given.items():
        spec = task_preset.field(name)
        if spec is None:
            problems.append(f"{name}: unknown option")
            continue
        try:
            values[name] = spec.check(raw)
        except InvalidValue as error:
            problems.append(f"{name}: {error.message}")
    if problems:
        raise ValueError("invalid forecast config: " + "; ".join(problems))
    return values


def spec_from_cli(args: argparse.Namespace) -> TrainJobSpec:
    overrides: dict[str, Any] = {}
    for pair in args.values:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"expected key=value, got {pair!r}")
        overrides[name] = yaml.safe_load(text)
    workdir = Path(args.workdir).resolve()
    return TrainJobSpec(
        job_id="cli",
        attempt=1,
        task=TASK,
        dataset_yaml=str(Path(args.data).resolve()),
        workdir=str(workdir),
        config=resolve_config(overrides),
        resume_from=args.resume,
        device=args.device,
    )


# ---- the child -------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    writer = EventWriter.take_stdout()  # first: nothing may print to the protocol stream
    switch = CancelSwitch()
    switch.install()
    run: Run | None = None
    try:
        parser = argparse.ArgumentParser(prog="modelyard.plugins.forecast.train", description=__doc__)
        parser.add_argument("--spec", help="path to the TrainJobSpec JSON file (how the trainer runs it)")
        parser.add_argument("--data", help="data.yaml of a csv_series dataset directory (without --spec)")
        parser.add_argument("--workdir", help="where checkpoints, the model and artifacts go (without --spec)")
        parser.add_argument("--device", default="cpu", help="cpu, cuda:N or a GPU index (without --spec)")
        parser.add_argument("--resume", default=None, help="a last.pt to resume from (without --spec)")
        parser.add_argument("values", nargs="*", help="key=value config overrides (without --spec)")
        args = parser.parse_args(argv)
        try:
            if args.spec:
                job = TrainJobSpec.from_file(args.spec)
            elif args.data and args.workdir:
                job = spec_from_cli(args)
            else:
                raise ValueError("give --spec FILE, or --data and --workdir")
        except (OSError, ValueError) as e:
            _last_word(writer, Failed(error=f"cannot read the train job: {e}"))
            return EXIT_USAGE
        crash_after = os.environ.get(CRASH_AFTER_EPOCH_ENV)
        run = Run(job, writer, switch, crash_after_epoch=int(crash_after) if crash_after else None)
        run.run()
    except CancelledRun as e:
        switch.quiet = True
        name = signal.Signals(e.signum).name
        _last_word(writer, Cancelled(signal=name, epoch=run.last_epoch if run else None))
        return exit_code_for_signal(e.signum)
    except Exception as e:  # noqa: BLE001 - every failure must reach the worker as a failed event
        switch.quiet = True
        traceback.print_exc(file=sys.stderr)
        _last_word(writer, Failed(error=f"{type(e).__name__}: {e}"))
        return EXIT_FAILED
    return EXIT_COMPLETED


def _last_word(writer: EventWriter, event: Cancelled | Failed) -> None:
    """The final event, if anyone still listens: a worker that died closed the pipe."""
    with contextlib.suppress(OSError):
        writer.emit(event)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Run:
    """One attempt of one job."""

    def __init__(self, job: TrainJobSpec, writer: EventWriter, switch: CancelSwitch, crash_after_epoch: int | None):
        if job.task != TASK:
            raise ValueError(f"the forecast plugin trains task {TASK!r}, not {job.task!r}")
        self.job = job
        self.writer = writer
        self.switch = switch
        self.crash_after_epoch = crash_after_epoch
        self.config = resolve_config(job.config)
        self.workdir = Path(job.workdir).resolve()
        self.weights = self.workdir / WEIGHTS
        self.last_epoch: int | None = None
        self.best_epoch: int | None = None
        self.best_val: float = float("inf")

    def log(self, line: str) -> None:
        self.writer.emit(LogLine(line=line))

    def run(self) -> None:
        self.weights.mkdir(parents=True, exist_ok=True)
        resume = self._resume_checkpoint()
        dataset = load_dataset(self.job.dataset_yaml)
        spec = ForecastSpec.from_dict(resume["spec"]) if resume else None
        prepared = prepare(dataset, self.config, spec)
        spec = prepared.spec
        self.log(
            f"{len(prepared.train)} training and {len(prepared.val)} validation windows; step {spec.step_seconds} s; "
            f"columns {', '.join(spec.columns)}; calendar features {', '.join(spec.feature_columns) or 'none'} "
            f"(holidays: {spec.holiday_source})"
        )
        if self.config["model"] == "mlp":
            from modelyard.plugins.forecast import mlp_run

            model_proto, version = mlp_run.train(self, prepared, resume)
        else:
            model_proto, version = self._sklearn(prepared, resume)
        self.switch.immediate = True
        self.switch.check()
        onnx_path = self._export(model_proto, spec)
        final = self._evaluate(onnx_path, prepared)
        final["val_loss"] = self.best_val if np.isfinite(self.best_val) else None
        self.writer.emit(Completed(best_epoch=self.best_epoch, metrics=clean_metrics(final), framework_version=version))

    # ---- checkpoints ---------------------------------------------------------------------------------------------

    def _resume_checkpoint(self) -> dict[str, Any] | None:
        if self.job.resume_from is None:
            return None
        source = Path(self.job.resume_from)
        if not source.is_file():
            raise FileNotFoundError(f"resume checkpoint {source} does not exist")
        if self.config["model"] == "mlp":
            from modelyard.plugins.forecast import mlp_run

            checkpoint = mlp_run.load_checkpoint(source)
        else:
            from modelyard.plugins.forecast import sklearn_models

            checkpoint = sklearn_models.load_checkpoint(source)
        if checkpoint.get("format") != CHECKPOINT_FORMAT or checkpoint.get("kind") != self.config["model"]:
            raise ValueError(f"{source} is not a {self.config['model']} checkpoint of this plugin")
        best = source.with_name("best.pt")
        target = self.weights / "best.pt"
        if best.is_file() and best.resolve() != target.resolve():
            shutil.copyfile(best, target)  # best.pt stays the best of the whole job
        self.best_val = float(checkpoint.get("best_val", float("inf")))
        self.best_epoch = checkpoint.get("best_epoch")
        self.last_epoch = int(checkpoint["epoch"])
        self.log(f"resuming from {source} (epoch {self.last_epoch} done)")
        return checkpoint

    def checkpoint_saved(self, epoch: int, improved: bool) -> None:
        """Report last.pt (and best.pt) of `epoch`, both written already; then the test crash, if asked for."""
        last = self.weights / "last.pt"
        self.writer.emit(CheckpointSaved(kind="last", path=str(last), epoch=epoch, size=last.stat().st_size))
        if improved:
            best = self.weights / "best.pt"
            self.writer.emit(CheckpointSaved(kind="best", path=str(best), epoch=epoch, size=best.stat().st_size))
        if improved:
            self.best_epoch = epoch
        if self.crash_after_epoch is not None and epoch >= self.crash_after_epoch:
            os.kill(os.getpid(), signal.SIGKILL)

    def epoch_ended(self, epoch: int, epochs: int, values: dict[str, Any], took: float) -> None:
        self.writer.emit(EpochEnded(epoch=epoch, epochs=epochs, metrics=clean_metrics(values), epoch_time_s=took))
        self.last_epoch = epoch

    # ---- scikit-learn --------------------------------------------------------------------------------------------

    def _sklearn(self, prepared: Prepared, resume: dict[str, Any] | None) -> tuple[Any, str]:
        import sklearn  # type: ignore[import-untyped]

        from modelyard.plugins.forecast import sklearn_models

        spec = prepared.spec
        if resume is not None:
            self.writer.emit(Started(epochs=1, resumed_from_epoch=1))
            self.log("the checkpoint holds a finished training: exporting it")
            estimator = resume["estimator"]
        else:
            self.writer.emit(Started(epochs=1))
            started = time.monotonic()
            estimator = sklearn_models.build(self.config)
            estimator.fit(prepared.train.x, prepared.train.y)
            train_loss = float(np.mean((sklearn_models.predict(estimator, prepared.train.x) - prepared.train.y) ** 2))
            predicted = sklearn_models.predict(estimator, prepared.val.x)
            self.best_val = float(np.mean((predicted - prepared.val.y) ** 2))
            figures = metrics.overall(prepared.val.y, predicted, prepared.mase_scale_scaled)
            self.epoch_ended(1, 1, epoch_metrics(train_loss, self.best_val, figures), time.monotonic() - started)
            payload = {
                "format": CHECKPOINT_FORMAT,
                "kind": self.config["model"],
                "epoch": 1,
                "epochs": 1,
                "estimator": estimator,
                "best_val": self.best_val,
                "best_epoch": 1,
                "spec": spec.to_dict(),
                "config": dict(self.config),
            }
            sklearn_models.save_checkpoint(self.weights / "last.pt", payload)
            shutil.copyfile(self.weights / "last.pt", self.weights / "best.pt")
            self.checkpoint_saved(1, improved=True)
        proto = sklearn_models.to_onnx(estimator, spec.input_size, spec.output_size)
        return proto, f"modelyard-forecast {VERSION} (scikit-learn {sklearn.__version__})"

    # ---- export, evaluation, artifacts ---------------------------------------------------------------------------

    def _export(self, model_proto: Any, spec: ForecastSpec) -> Path:
        from modelyard.plugins.forecast import onnx_export

        path = self.weights / "model.onnx"
        size, sha256 = onnx_export.write(model_proto, spec, path)
        self.writer.emit(Exported(format="onnx", path=str(path), size=size, sha256=sha256))
        return path

    def _evaluate(self, onnx_path: Path, prepared: Prepared) -> dict[str, Any]:
        import onnxruntime as ort

        spec, val = prepared.spec, prepared.val
        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        predicted_scaled = np.asarray(session.run(None, {name: val.x.astype(np.float32)})[0], dtype=np.float64)
        actual, predicted = spec.forecast_rows(val.y), spec.forecast_rows(predicted_scaled)
        table = metrics.evaluation_table(
            actual, predicted, spec.columns, prepared.mase_scale, step_seconds=spec.step_seconds, offset=spec.offset
        )
        final = metrics.overall(val.y, predicted_scaled, prepared.mase_scale_scaled)
        report = {
            "model": spec.model,
            "columns": list(spec.columns),
            "input_steps": spec.input_steps,
            "output_steps": spec.output_steps,
            "offset": spec.offset,
            "step_seconds": spec.step_seconds,
            "windows": {"train": len(prepared.train), "val": len(val)},
            "mase_season": int(self.config["mase_season"]),
            "mase_scale": [None if not np.isfinite(v) else float(v) for v in prepared.mase_scale],
            "overall_scaled": final,
            "per_variable": metrics.per_variable(actual, predicted, spec.columns, prepared.mase_scale),
            "table": table,
        }
        artifacts = self.workdir / "artifacts"
        artifacts.mkdir(parents=True, exist_ok=True)
        evaluation = artifacts / "evaluation.json"
        evaluation.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        table_csv = artifacts / "evaluation.csv"
        table_csv.write_text(metrics.table_csv(table), encoding="utf-8")
        files = [evaluation, table_csv]
        order = np.argsort([t.timestamp() for t in val.first_output])
        last_inputs = spec.unscale(
            val.x[int(order[-1]), : spec.input_steps * len(spec.columns)].reshape(spec.input_steps, -1)
        )
        for column, stem in enumerate(plots.safe_names(spec.columns)):
            files.append(
                plots.violin(
                    artifacts / f"violin_{stem}.png",
                    spec.columns[column],
                    prepared.train_values[:, column],
                    prepared.val_values[:, column],
                )
            )
            files.append(
                plots.forecast_vs_actual(
                    artifacts / f"forecast_{stem}.png", spec, column, val.first_output, actual, predicted, last_inputs
                )
            )
        for path in files:
            size, digest = path.stat().st_size, _sha256(path)
            self.writer.emit(ArtifactWritten(name=path.name, path=str(path), size=size, sha256=digest))
        return dict(final)


def epoch_metrics(train_loss: float, val_loss: float, figures: Mapping[str, float | None]) -> Metrics:
    return clean_metrics(
        {
            "train/loss": train_loss,
            "val/loss": val_loss,
            "val/mae": figures["mae"],
            "val/rmse": figures["rmse"],
            "val/mase": figures["mase"],
        }
    )


def _exit(code: int) -> NoReturn:
    """Leave without the interpreter's teardown: everything is reported and flushed by now."""
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    _exit(main())
