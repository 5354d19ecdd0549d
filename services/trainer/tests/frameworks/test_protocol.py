"""The line protocol between the training child and the worker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from modelyard.frameworks.protocol import (
    EXIT_CANCELLED,
    CheckpointSaved,
    Completed,
    EpochEnded,
    ProtocolError,
    Started,
    clean_metrics,
    encode_event,
    parse_event,
)

SRC = Path(__file__).resolve().parents[2] / "src"

LINES = [
    '{"type":"started","epochs":3,"resumed_from_epoch":null}',
    '{"type":"started","epochs":3,"resumed_from_epoch":1}',
    '{"type":"epoch","epoch":2,"epochs":3,"metrics":{"train/box_loss":1.5,"metrics/mAP50(B)":null},"epoch_time_s":0.7}',
    '{"type":"checkpoint","kind":"last","path":"/w/train/weights/last.pt","epoch":2}',
    '{"type":"checkpoint","kind":"best","path":"/w/train/weights/best.pt","epoch":2,"size":123}',
    '{"type":"log","line":"exporting"}',
    '{"type":"exported","format":"onnx","path":"/w/best.onnx","size":10,"sha256":"ab"}',
    '{"type":"completed","best_epoch":2,"metrics":{"metrics/mAP50(B)":0.5}}',
    '{"type":"failed","error":"boom"}',
    '{"type":"cancelled","signal":"SIGTERM","epoch":1}',
]


@pytest.mark.parametrize("line", LINES)
def test_every_event_kind_parses_and_encodes_back_to_the_same_json(line: str) -> None:
    event = parse_event(line + "\n")
    assert event.type == json.loads(line)["type"]
    again = json.loads(encode_event(event))
    assert again.items() >= json.loads(line).items()
    assert parse_event(encode_event(event)) == event


def test_events_parse_into_typed_models() -> None:
    started, epoch, checkpoint = (parse_event(line) for line in LINES[1:4])
    assert isinstance(started, Started)
    assert started.resumed_from_epoch == 1
    assert isinstance(epoch, EpochEnded)
    assert epoch.metrics == {"train/box_loss": 1.5, "metrics/mAP50(B)": None}
    assert isinstance(checkpoint, CheckpointSaved)
    assert checkpoint.kind == "last"


@pytest.mark.parametrize(
    "line",
    [
        "Ultralytics 8.4 🚀",
        "",
        '{"type":"teleported"}',
        '{"type":"epoch","epoch":0,"epochs":3,"metrics":{}}',
        '{"type":"checkpoint","kind":"middle","path":"x","epoch":1}',
        "[1, 2]",
    ],
)
def test_a_line_that_is_no_event_is_a_protocol_error(line: str) -> None:
    with pytest.raises(ProtocolError):
        parse_event(line)


def test_fields_added_by_a_newer_child_are_ignored() -> None:
    event = parse_event('{"type":"completed","best_epoch":4,"metrics":{},"duration_s":12.5}')
    assert event == Completed(best_epoch=4, metrics={})


def test_nan_and_infinite_metrics_travel_as_null() -> None:
    metrics = clean_metrics({"a": float("nan"), "b": float("inf"), "c": 2, "d": "x", "e": 0.25})
    assert metrics == {"a": None, "b": None, "c": 2.0, "d": None, "e": 0.25}
    line = encode_event(EpochEnded(epoch=1, epochs=1, metrics=metrics))
    assert "NaN" not in line
    assert "Infinity" not in line


def test_only_events_reach_stdout_whatever_else_the_child_prints() -> None:
    code = (
        "import os, sys\n"
        "from modelyard.frameworks.protocol import EventWriter, LogLine\n"
        "writer = EventWriter.take_stdout()\n"
        "print('framework chatter')\n"
        "os.write(1, b'raw fd 1 output\\n')\n"
        "writer.emit(LogLine(line='hello'))\n"
        "print('more chatter', flush=True)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(SRC)}, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == '{"type":"log","line":"hello","level":"info"}\n'
    assert "framework chatter" in result.stderr
    assert "raw fd 1 output" in result.stderr


def test_cancel_exit_code_is_the_shell_convention_for_sigterm() -> None:
    assert EXIT_CANCELLED == 143
