"""The local inference API: what an application on the device sees (JSON answers, RFC 9457 problems), and that a
model swap under load drops no request. The slots' own contract is at the end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from modelyard.edge.api import create_api
from modelyard.edge.models import LoadedModel, ModelNotLoaded, ModelSlots, load_model
from modelyard.edge.yolo import decode_image

from .conftest import Reference

MODULE = "vehicles"
INFER = f"/v1/models/{MODULE}/infer"
PROBLEM = "application/problem+json"

Client = TestClient[web.Request, web.Application]


@pytest.fixture(scope="session")
def first_model(model_path: Path) -> LoadedModel:
    return load_model(model_path, ai_module=MODULE, version="1.0.0", counter=1)


@pytest.fixture
def slots(first_model: LoadedModel) -> ModelSlots:
    slots = ModelSlots()
    slots.swap(MODULE, first_model)
    return slots


async def _client(app: web.Application) -> Client:
    # no connection limit: the swap test keeps 200 requests in flight at once
    return TestClient(TestServer(app), connector=aiohttp.TCPConnector(limit=0))


@pytest.fixture
async def client(slots: ModelSlots) -> AsyncIterator[Client]:
    app = create_api(slots, health=lambda: {"device": "edge-test", "models": len(slots)})
    async with await _client(app) as client:
        yield client


@pytest.fixture
def image(reference: Reference) -> bytes:
    return reference.images["wide.png"].read_bytes()  # 160 x 120


async def _problem(response: aiohttp.ClientResponse, status: int) -> dict[str, Any]:
    assert response.status == status
    assert response.content_type == PROBLEM
    body: dict[str, Any] = await response.json(content_type=PROBLEM)
    assert {"type", "title", "status", "detail"} <= body.keys() and body["status"] == status
    assert "Traceback" not in str(body)
    return body


# --- inference ----------------------------------------------------------------------------------------------------


async def test_infer_answers_the_detections_in_pixels_of_the_posted_image(
    client: Client, image: bytes, first_model: LoadedModel
) -> None:
    async with client.post(f"{INFER}?conf=0.05&iou=0.6", data=image, headers={"Content-Type": "image/png"}) as r:
        assert r.status == 200 and r.content_type == "application/json"
        body = await r.json()
    assert set(body) == {"model_version", "counter", "ai_module", "detections"}
    assert (body["ai_module"], body["model_version"], body["counter"]) == (MODULE, "1.0.0", 1)
    expected = first_model.infer(decode_image(image), conf=0.05, iou=0.6)
    assert len(body["detections"]) == len(expected) > 0
    for got, want in zip(body["detections"], expected, strict=True):
        assert set(got) == {"class_id", "class_name", "confidence", "box"}
        assert (got["class_id"], got["class_name"], got["confidence"]) == (
            want.class_id,
            want.class_name,
            want.confidence,
        )
        assert got["box"] == list(want.box)
        x1, y1, x2, y2 = got["box"]
        assert 0 <= x1 <= x2 <= 160 and 0 <= y1 <= y2 <= 120


async def test_infer_defaults_and_thresholds(client: Client, image: bytes) -> None:
    """Defaults are Ultralytics' (conf 0.25, iou 0.7); a higher conf never adds detections."""
    counts = {}
    for query in ("", "?conf=0.25&iou=0.7", "?conf=0.01", "?conf=1"):
        async with client.post(INFER + query, data=image, headers={"Content-Type": "application/octet-stream"}) as r:
            assert r.status == 200
            counts[query] = len((await r.json())["detections"])
    assert counts[""] == counts["?conf=0.25&iou=0.7"] <= counts["?conf=0.01"]
    assert counts["?conf=1"] == 0


# --- problems -----------------------------------------------------------------------------------------------------


async def test_unknown_module_is_a_404_problem(client: Client, image: bytes) -> None:
    async with client.post("/v1/models/faces/infer", data=image) as r:
        body = await _problem(r, 404)
    assert body["type"].endswith("/model-not-loaded") and "'faces'" in body["detail"]


@pytest.mark.parametrize("data", [b"", b"GIF89a but not really", b"\x89PNG\r\n\x1a\n truncated"])
async def test_a_body_that_is_not_an_image_is_a_422_naming_the_body(client: Client, data: bytes) -> None:
    async with client.post(INFER, data=data) as r:
        body = await _problem(r, 422)
    assert "body" in body["detail"] and body["errors"][0]["field"] == "body"


@pytest.mark.parametrize(
    ("query", "field"), [("conf=1.5", "conf"), ("conf=abc", "conf"), ("iou=-0.1", "iou"), ("iou=nan", "iou")]
)
async def test_thresholds_outside_0_to_1_are_a_422_naming_the_query_field(
    client: Client, image: bytes, query: str, field: str
) -> None:
    async with client.post(f"{INFER}?{query}", data=image) as r:
        body = await _problem(r, 422)
    assert f"'{field}'" in body["detail"] and body["errors"][0]["field"] == field


async def test_a_body_over_the_limit_is_a_413_with_or_without_content_length(slots: ModelSlots, image: bytes) -> None:
    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"x" * 512

    async with await _client(create_api(slots, max_body_bytes=1024)) as client:
        async with client.post(INFER, data=b"x" * 2048) as r:
            body = await _problem(r, 413)
        assert "1024" in body["detail"]
        async with client.post(INFER, data=chunked()) as r:
            await _problem(r, 413)
        async with client.post(INFER, data=image[:1000]) as r:  # under the limit: it is read (and is no image)
            await _problem(r, 422)


async def test_unknown_routes_and_methods_are_problems_too(client: Client) -> None:
    async with client.get("/v2/nothing") as r:
        await _problem(r, 404)
    async with client.get(INFER) as r:
        await _problem(r, 405)


async def test_an_unexpected_error_is_a_bare_500(
    client: Client, image: bytes, first_model: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(first_model, "infer", broken)
    async with client.post(INFER, data=image) as r:
        body = await _problem(r, 500)
    assert "secret" not in str(body)


# --- listing and health -------------------------------------------------------------------------------------------


async def test_models_lists_what_is_loaded(client: Client) -> None:
    async with client.get("/v1/models") as r:
        assert r.status == 200
        body = await r.json()
    (model,) = body["models"]
    assert {k: model[k] for k in ("ai_module", "version", "counter", "task", "class_names")} == {
        "ai_module": MODULE,
        "version": "1.0.0",
        "counter": 1,
        "task": "detect",
        "class_names": ["car", "bus", "truck"],
    }
    assert model["loaded_at"].endswith("+00:00") and model["imgsz"] == [128, 128]


async def test_healthz_merges_the_agents_health(client: Client) -> None:
    async with client.get("/healthz") as r:
        assert r.status == 200
        assert await r.json() == {"status": "ok", "device": "edge-test", "models": 1}


async def test_healthz_is_503_when_the_probe_fails(slots: ModelSlots) -> None:
    def failing() -> dict[str, Any]:
        raise OSError("disk gone")

    async with await _client(create_api(slots, health=failing)) as client, client.get("/healthz") as r:
        await _problem(r, 503)


# --- hot swap -----------------------------------------------------------------------------------------------------


async def test_swapping_the_model_under_load_drops_no_request(
    client: Client, slots: ModelSlots, image: bytes, model_path: Path
) -> None:
    """200 requests are sent at once; after the first few answers, while the rest are in flight, the model is
    swapped for version 2 (loaded and warmed beforehand, in a thread, as the agent does). Every request is answered
    200, by version 1 or 2 (each by the model it took when it arrived), and every request sent after the swap by
    version 2."""
    second = await asyncio.to_thread(load_model, model_path, ai_module=MODULE, version="2.0.0", counter=2)
    answered: list[tuple[int, str | None]] = []
    first_answers = asyncio.Event()

    async def one() -> tuple[int, str | None]:
        async with client.post(INFER, data=image) as r:
            body = await r.json(content_type=None)
            answered.append((r.status, body.get("model_version")))
            if len(answered) >= 5:
                first_answers.set()
            return answered[-1]

    before = [asyncio.create_task(one()) for _ in range(200)]
    await first_answers.wait()
    in_flight_at_swap = 200 - len(answered)
    old = slots.swap(MODULE, second)
    after = [asyncio.create_task(one()) for _ in range(20)]
    first_results = await asyncio.gather(*before)
    later_results = await asyncio.gather(*after)

    assert old is not None and old.info.version == "1.0.0"
    assert in_flight_at_swap >= 100
    assert [status for status, _ in first_results + later_results] == [200] * 220
    assert {version for _, version in first_results} <= {"1.0.0", "2.0.0"}
    assert sum(version == "1.0.0" for _, version in first_results) >= 5
    assert {version for _, version in later_results} == {"2.0.0"}


# --- slots --------------------------------------------------------------------------------------------------------


def test_slots_get_swap_remove_and_list(first_model: LoadedModel, model_path: Path) -> None:
    slots = ModelSlots()
    with pytest.raises(ModelNotLoaded, match="'vehicles'"):
        slots.get(MODULE)
    assert slots.swap(MODULE, first_model) is None
    other = load_model(model_path, ai_module="animals", version="3", counter=3, warm_up_runs=0)
    slots.swap("animals", other)
    assert slots.get(MODULE) is first_model and MODULE in slots and len(slots) == 2
    assert [(i.ai_module, i.version) for i in slots.list()] == [("animals", "3"), (MODULE, "1.0.0")]
    with pytest.raises(ValueError, match="cannot serve"):
        slots.swap(MODULE, other)
    assert slots.remove("animals") is other and slots.remove("animals") is None
    assert [i.ai_module for i in slots.list()] == [MODULE]


def test_a_swapped_out_model_still_answers_the_requests_that_hold_it(
    first_model: LoadedModel, model_path: Path, reference: Reference
) -> None:
    slots = ModelSlots()
    slots.swap(MODULE, first_model)
    held = slots.get(MODULE)  # a request took it
    assert isinstance(held, LoadedModel)
    slots.swap(MODULE, load_model(model_path, ai_module=MODULE, version="2.0.0", counter=2, warm_up_runs=0))
    detections = held.infer(decode_image(reference.images["tall.png"].read_bytes()))
    assert held.info.version == "1.0.0" and isinstance(detections, list)
    assert slots.get(MODULE).info.version == "2.0.0"
