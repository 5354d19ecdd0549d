"""Edge inference through the agent's HTTP API against bare onnxruntime: what the API adds to one request.

The same model (bench/edge_swap.py's: a YOLO11n detect exported by Ultralytics at `--imgsz`, 64 px by default, random
weights, made on the spot in a subprocess), the same onnxruntime session (one intra-op thread unless
`--intra-op-threads` says otherwise), the same 320x240 JPEG, one request at a time:

- agent: `POST /v1/models/{module}/infer` with the JPEG as the body, from an aiohttp client in this process over a
  kept-alive loopback connection, until the JSON answer is parsed. Includes: client and server HTTP, the hop to the
  API's inference thread and back, JPEG decode, letterbox, `session.run`, NMS and box scaling, JSON both ways;
- bare: the same work without HTTP, in this thread: `decode_image`, `preprocess` (letterbox, CHW, /255),
  `session.run`, `postprocess`. The table also shows `session.run` alone on the preprocessed tensor, and the
  pre-processing alone, so that any other split can be read off it.

Rounds alternate the sides (`--rounds`, default 5) so that drift on a shared machine hits both; the first 20 calls
of each side are warm-up and not counted. Medians are reported. Prints a table, then one JSON line: {"agent_ms",
"bare_ms", "ratio", ...}; agent_ms - bare_ms is the API's own cost per request.

Run: python bench/edge_infer.py [--requests 1000] [--rounds 5] [--imgsz 64] [--intra-op-threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from modelyard.edge.models import LoadedModel, ModelSlots, load_model
from modelyard.edge.yolo import decode_image, postprocess, preprocess

if TYPE_CHECKING:  # `python bench/edge_infer.py` puts bench/ on sys.path; mypy sees the bench package
    from bench import edge_swap
else:
    import edge_swap

MODULE = "vehicles"
WARMUP = 20


def bare_pipeline(model: LoadedModel, body: bytes) -> Callable[[], Any]:
    """One request's work without HTTP: decode, preprocess, session.run, postprocess."""
    session, name, info = model.session, model.input_name, model.info

    def call() -> Any:
        image = decode_image(body)
        tensor, ratio, pad = preprocess(image, info.imgsz)
        output = session.run(None, {name: tensor})[0]
        return postprocess(
            output,
            conf=0.25,
            iou=0.7,
            ratio=ratio,
            pad=pad,
            orig_shape=(image.shape[0], image.shape[1]),
            class_names=info.class_names,
        )

    return call


def timed(call: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out


async def measure(args: argparse.Namespace, work: Path) -> dict[str, list[float]]:
    frame = work / "frame.jpg"
    body = edge_swap.make_frame(frame)
    path = edge_swap.export_model(work / "model", args.imgsz, frame)
    model = load_model(path, ai_module=MODULE, version="1.0.0", counter=1, intra_op_threads=args.intra_op_threads)
    slots = ModelSlots()
    slots.swap(MODULE, model)
    bare = bare_pipeline(model, body)
    image = decode_image(body)
    tensor, _, _ = preprocess(image, model.info.imgsz)

    def run_only() -> Any:
        return model.session.run(None, {model.input_name: tensor})

    def preprocess_only() -> Any:
        return preprocess(decode_image(body), model.info.imgsz)

    results: dict[str, list[float]] = {"agent": [], "bare": [], "run": [], "pre": [], "detections": []}
    async with edge_swap.serve(slots, threads=2) as url, aiohttp.ClientSession() as http:
        endpoint = f"{url}/v1/models/{MODULE}/infer"

        async def agent_call() -> int:
            async with http.post(endpoint, data=body, headers={"Content-Type": "image/jpeg"}) as r:
                payload = await r.json()
                if r.status != 200:
                    raise RuntimeError(f"agent answered {r.status}: {payload}")
                return len(payload["detections"])

        async def agent_timed(n: int) -> list[float]:
            out = []
            for _ in range(n):
                start = time.perf_counter()
                results["detections"].append(await agent_call())
                out.append((time.perf_counter() - start) * 1000)
            return out

        await agent_timed(WARMUP)
        timed(bare, WARMUP)
        per_round = max(1, args.requests // args.rounds)
        for _ in range(args.rounds):
            results["agent"] += await agent_timed(per_round)
            results["bare"] += timed(bare, per_round)
            results["run"] += timed(run_only, per_round)
            results["pre"] += timed(preprocess_only, per_round)
    return results


def report(results: dict[str, list[float]], args: argparse.Namespace) -> None:
    median = {k: statistics.median(v) for k, v in results.items() if k != "detections" and v}
    p90 = {k: statistics.quantiles(v, n=10)[-1] for k, v in results.items() if k != "detections" and len(v) > 1}
    ratio = median["agent"] / median["bare"]
    n = len(results["agent"])
    print(
        f"edge inference, one request at a time: {n} per side in {args.rounds} alternating rounds; YOLO11n "
        f"{args.imgsz} px ONNX, 320x240 JPEG ({statistics.median(results['detections']):.0f} detections), "
        f"intra-op threads {args.intra_op_threads}, {os.cpu_count()} cores"
    )
    print(f"{'ms per request':<68}{'median':>9}{'p90':>9}")
    rows = (
        ("agent: HTTP POST → JSON (client + server + decode + model + NMS)", "agent"),
        ("bare: decode + preprocess + session.run + postprocess", "bare"),
        ("  of which session.run alone (preprocessed tensor)", "run"),
        ("  of which decode + preprocess alone", "pre"),
    )
    for label, key in rows:
        print(f"{label:<68}{median[key]:>9.3f}{p90[key]:>9.3f}")
    print(f"ratio agent / bare {ratio:.2f}; the API adds {median['agent'] - median['bare']:.3f} ms per request")
    print(
        json.dumps(
            {
                "agent_ms": round(median["agent"], 3),
                "bare_ms": round(median["bare"], 3),
                "ratio": round(ratio, 3),
                "bare_run_ms": round(median["run"], 3),
                "bare_preprocess_ms": round(median["pre"], 3),
                "api_overhead_ms": round(median["agent"] - median["bare"], 3),
                "requests": n,
                "imgsz": args.imgsz,
                "intra_op_threads": args.intra_op_threads,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="timed calls per side (default 1000)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--imgsz", type=int, default=64, help="model input size (default 64)")
    parser.add_argument("--intra-op-threads", type=int, default=1, help="onnxruntime threads per run (default 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-edge-infer-") as tmp:
        results = asyncio.run(measure(args, Path(tmp)))
    report(results, args)


if __name__ == "__main__":
    main()
