"""The training child of the regress framework.

    python -m modelyard.plugins.regress.train --spec FILE                       (what the trainer worker runs)
    python -m modelyard.plugins.regress.train --data DATA --workdir DIR [--resume LAST_PT] key=value ...

It trains the job the spec describes and reports it as `modelyard.frameworks.protocol` events on stdout (anything
else it prints goes to stderr): started; per epoch: epoch, checkpoint last, checkpoint best when the validation MSE
fell; then exported (ONNX of best.pt), artifact val_predictions.csv, completed. A `resume_from` last.pt of an
earlier attempt continues after the epoch it finished, with its optimiser, schedule, early-stopping state and
random state. The direct mode (the scheduler's CLI preview) resolves key=value against the preset's field table.

This module stays light (no torch): the spec, the dataset and the resume file are checked before the slow imports,
so a job that cannot start fails in well under a second.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any, NoReturn

from modelyard.frameworks import presets as registry
from modelyard.frameworks.cancel import CancelledRun, CancelSwitch
from modelyard.frameworks.fields import InvalidValue
from modelyard.frameworks.jobspec import TrainJobSpec
from modelyard.frameworks.protocol import (
    EXIT_COMPLETED,
    EXIT_FAILED,
    EXIT_USAGE,
    Cancelled,
    EventWriter,
    Failed,
    exit_code_for_signal,
)
from modelyard.plugins.regress import TASK, presets
from modelyard.plugins.regress.control import Progress
from modelyard.plugins.regress.data import read_dataset

CRASH_AFTER_EPOCH_ENV = "MODELYARD_TEST_CRASH_AFTER_EPOCH"  # tests only: SIGKILL itself after this epoch


class UsageError(ValueError):
    """The command line or the spec cannot be used."""


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """key=value words of the direct mode, checked against the preset's field table (numbers as numbers)."""
    presets.register()
    values = registry.preset_values(presets.PRESET)
    problems = []
    for pair in pairs:
        name, sep, text = pair.partition("=")
        spec = presets.PRESET.field(name)
        if not sep or spec is None:
            problems.append(f"{pair!r}: expected key=value with a key among {', '.join(values)}")
            continue
        raw: Any = text
        for number in (int, float):
            try:
                raw = number(text)
                break
            except ValueError:
                continue
        try:
            values[name] = spec.check(raw)
        except InvalidValue as error:
            problems.append(f"{name}: {error.message}")
    if problems:
        raise UsageError("; ".join(problems))
    return values


def spec_from_args(args: argparse.Namespace) -> TrainJobSpec:
    if args.spec:
        if args.data or args.workdir or args.overrides or args.resume:
            raise UsageError("--spec takes no --data, --workdir, --resume or key=value")
        try:
            return TrainJobSpec.from_file(args.spec)
        except (OSError, ValueError) as error:
            raise UsageError(f"cannot read train job spec {args.spec}: {error}") from error
    if not args.data or not args.workdir:
        raise UsageError("give --spec FILE, or --data DATA and --workdir DIR")
    config = parse_overrides(args.overrides)
    return TrainJobSpec(
        job_id="local",
        attempt=1,
        task=TASK,
        dataset_yaml=args.data,
        workdir=args.workdir,
        config=config,
        resume_from=args.resume,
        device=str(config["device"]),
    )


def resolved_config(spec: TrainJobSpec) -> dict[str, Any]:
    """The job's config with every option present and checked (a spec written by hand may leave some out)."""
    presets.register()
    values = registry.preset_values(presets.PRESET)
    problems = []
    for name, raw in spec.config.items():
        field = presets.PRESET.field(name)
        if field is None:
            problems.append(f"unknown option {name!r}")
            continue
        try:
            values[name] = field.check(raw)
        except InvalidValue as error:
            problems.append(f"{name}: {error.message}")
    if problems:
        raise ValueError("the job's config does not fit the regress preset: " + "; ".join(problems))
    return values


def run(spec: TrainJobSpec, writer: EventWriter, switch: CancelSwitch, progress: Progress) -> None:
    if spec.task != TASK:
        raise ValueError(f"the regress framework trains task {TASK!r}, not {spec.task!r}")
    config = resolved_config(spec)
    dataset = read_dataset(Path(spec.dataset_yaml))
    if spec.resume_from is not None and not Path(spec.resume_from).is_file():
        raise FileNotFoundError(f"resume checkpoint {spec.resume_from!r} is not a file")

    from modelyard.plugins.regress import fit  # torch: only now that everything that can be checked is

    fit.train(spec, config, dataset, writer, switch, progress)


def main(argv: list[str] | None = None) -> int:
    writer = EventWriter.take_stdout()  # first: nothing may print to the protocol stream
    switch = CancelSwitch()
    switch.install()
    crash_after = os.environ.get(CRASH_AFTER_EPOCH_ENV)
    progress = Progress(crash_after_epoch=int(crash_after) if crash_after else None)
    try:
        parser = argparse.ArgumentParser(prog="modelyard.plugins.regress.train", description=__doc__)
        parser.add_argument("--spec", help="path to the TrainJobSpec JSON file (the trainer worker's way)")
        parser.add_argument("--data", help="direct mode: the dataset's data.yaml")
        parser.add_argument("--workdir", help="direct mode: where checkpoints and the ONNX model go")
        parser.add_argument("--resume", help="direct mode: a last.pt to continue from")
        parser.add_argument("overrides", nargs="*", help="direct mode: option=value, e.g. epochs=5 imgsz=64")
        try:
            spec = spec_from_args(parser.parse_args(argv))
        except UsageError as error:
            _last_word(writer, Failed(error=str(error)))
            return EXIT_USAGE
        run(spec, writer, switch, progress)
    except CancelledRun as cancelled:
        switch.quiet = True
        name = signal.Signals(cancelled.signum).name
        _last_word(writer, Cancelled(signal=name, epoch=progress.last_epoch))
        return exit_code_for_signal(cancelled.signum)
    except Exception as error:  # noqa: BLE001  # every failure must reach the worker as a failed event
        switch.quiet = True
        traceback.print_exc(file=sys.stderr)
        _last_word(writer, Failed(error=f"{type(error).__name__}: {error}"))
        return EXIT_FAILED
    return EXIT_COMPLETED


def _last_word(writer: EventWriter, event: Cancelled | Failed) -> None:
    """The final event, if anyone still listens: a worker that died closed the pipe (BrokenPipeError)."""
    with contextlib.suppress(OSError):
        writer.emit(event)


def _exit(code: int) -> NoReturn:
    """Leave without the interpreter's teardown: everything is reported and flushed by now, and finalising torch
    costs a second or two that the worker would spend waiting for the exit status."""
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    _exit(main())
