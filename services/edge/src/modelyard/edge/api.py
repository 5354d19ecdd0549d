"""The agent's local inference HTTP API (aiohttp), for applications on the device.

    POST /v1/models/{ai_module}/infer?conf=0.25&iou=0.7   body: the image bytes (any content type); for other
                                                          tasks, what their runtime reads (a WAV, a JSON window)
    GET  /v1/models
    GET  /healthz

A request takes its model from the slot once, before anything else, and uses that reference to the end: a swap
during the request changes nothing for it, and the answer names the version that computed it. Decoding, inference
and post-processing are CPU work and run on a small thread pool of the app's own (not the loop's default executor,
which other code shares): the loop keeps accepting and answering while models compute.

Every error is an RFC 9457 problem (`application/problem+json`), aiohttp's own ones (unknown route, wrong method,
body too large) included; an unexpected error is logged here and answered as a bare 500, never with a traceback.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

import structlog
from aiohttp import web

from modelyard.contracts.api.problems import PROBLEM_CONTENT_TYPE, FieldError, ProblemDetails, problem_type
from modelyard.edge.models import LoadedModel, ModelInfo, ModelNotLoaded, ModelSlots
from modelyard.edge.runtimes import BadInput, Predictor
from modelyard.edge.yolo import Detection, NotAnImage, decode_image

DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024
DEFAULT_CONF = 0.25
DEFAULT_IOU = 0.7

log = structlog.get_logger(__name__)

Health = Callable[[], Mapping[str, Any]]


@dataclass(frozen=True)
class _Config:
    slots: ModelSlots
    health: Health | None
    max_body_bytes: int


_CONFIG = web.AppKey("edge_api_config", _Config)
_EXECUTOR = web.AppKey("edge_api_executor", ThreadPoolExecutor)


class Problem(Exception):
    """An error answered as a problem document; raised by handlers, rendered by the middleware."""

    def __init__(
        self, status: int, slug: str, title: str, detail: str, *, errors: list[FieldError] | None = None
    ) -> None:
        super().__init__(detail)
        self.details = ProblemDetails(type=problem_type(slug), title=title, status=status, detail=detail, errors=errors)


def create_api(
    slots: ModelSlots,
    *,
    health: Health | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    inference_threads: int = 2,
) -> web.Application:
    """The inference API over `slots`. `health()` adds fields to GET /healthz (a raise there answers 503).
    `inference_threads` bounds how many requests compute at once; the others wait their turn without holding the
    loop."""
    app = web.Application(client_max_size=max_body_bytes, middlewares=[_problems])
    app[_CONFIG] = _Config(slots=slots, health=health, max_body_bytes=max_body_bytes)
    app.cleanup_ctx.append(_executor(inference_threads))
    app.router.add_post("/v1/models/{ai_module}/infer", _infer)
    app.router.add_get("/v1/models", _list_models)
    app.router.add_get("/healthz", _healthz)
    return app


def _executor(threads: int) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="edge-infer")
        app[_EXECUTOR] = executor
        try:
            yield
        finally:
            executor.shutdown(wait=False, cancel_futures=True)

    return context


async def _infer(request: web.Request) -> web.Response:
    config = request.app[_CONFIG]
    module = request.match_info["ai_module"]
    try:
        model = config.slots.get(module)  # the one reference this request uses, whatever swaps happen meanwhile
    except ModelNotLoaded as e:
        raise Problem(404, "model-not-loaded", "Model not loaded", str(e)) from None
    if request.content_length is not None and request.content_length > config.max_body_bytes:
        raise _too_large(config.max_body_bytes, request.content_length)
    body = await request.read()  # aiohttp stops at client_max_size (chunked bodies too) with a 413
    loop = asyncio.get_running_loop()
    head = {"ai_module": module, "model_version": model.info.version, "counter": model.info.counter}
    if not isinstance(model, LoadedModel):  # a task runtime (runtimes.Predictor): it reads its own input
        predictor = cast(Predictor, model)
        try:
            answer = await loop.run_in_executor(request.app[_EXECUTOR], predictor.predict, body, dict(request.query))
        except BadInput as e:
            raise _bad_input(e.field, str(e)) from None
        return web.json_response(head | answer)
    conf = _unit_interval(request, "conf", DEFAULT_CONF)
    iou = _unit_interval(request, "iou", DEFAULT_IOU)
    if not body:
        raise _not_an_image("the request body is empty: send the image file's bytes as the body")
    try:
        detections = await loop.run_in_executor(request.app[_EXECUTOR], _detect, model, body, conf, iou)
    except NotAnImage as e:
        raise _not_an_image(f"the request body is not an image: {e}") from None
    return web.json_response(head | {"detections": [_detection_json(d) for d in detections]})


def _bad_input(field: str, detail: str) -> Problem:
    errors = [FieldError(field=field, message=detail, code="invalid")]
    return Problem(422, "validation", "Validation failed", detail, errors=errors)


def _detect(model: LoadedModel, body: bytes, conf: float, iou: float) -> list[Detection]:
    return model.infer(decode_image(body), conf=conf, iou=iou)


async def _list_models(request: web.Request) -> web.Response:
    return web.json_response({"models": [_model_json(info) for info in request.app[_CONFIG].slots.list()]})


async def _healthz(request: web.Request) -> web.Response:
    health = request.app[_CONFIG].health
    try:
        extra = dict(health()) if health is not None else {}
    except Exception as e:  # noqa: BLE001  # any failure of the probe is the answer: unhealthy
        log.warning("health probe failed", error=f"{type(e).__name__}: {e}")
        raise Problem(503, "unhealthy", "Unhealthy", "the agent's health probe failed") from None
    return web.json_response({"status": "ok", **extra})


def _unit_interval(request: web.Request, name: str, default: float) -> float:
    """A query parameter that must be a number in [0, 1] (NaN is not)."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        message = f"must be a number between 0 and 1, got {raw!r}"
        raise Problem(
            422,
            "validation",
            "Validation failed",
            f"query parameter {name!r} {message}",
            errors=[FieldError(field=name, message=message, code="out_of_range")],
        )
    return value


def _not_an_image(detail: str) -> Problem:
    errors = [FieldError(field="body", message="expected the bytes of an image file", code="not_an_image")]
    return Problem(422, "not-an-image", "Not an image", detail, errors=errors)


def _too_large(limit: int, actual: int | None = None) -> Problem:
    size = f" ({actual} bytes)" if actual is not None else ""
    return Problem(413, "body-too-large", "Body too large", f"the request body{size} exceeds {limit} bytes")


def _detection_json(detection: Detection) -> dict[str, Any]:
    return {
        "class_id": detection.class_id,
        "class_name": detection.class_name,
        "confidence": detection.confidence,
        "box": list(detection.box),
    }


def _model_json(info: ModelInfo) -> dict[str, Any]:
    return {
        "ai_module": info.ai_module,
        "version": info.version,
        "counter": info.counter,
        "task": info.task,
        "class_names": list(info.class_names),
        "imgsz": list(info.imgsz),
        "loaded_at": info.loaded_at.isoformat(),
    }


@web.middleware
async def _problems(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
    try:
        return await handler(request)
    except Problem as e:
        return _respond(e.details)
    except web.HTTPRequestEntityTooLarge:
        return _respond(_too_large(request.app[_CONFIG].max_body_bytes).details)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        slug = e.reason.lower().replace(" ", "-")
        detail = f"{request.method} {request.path}: {e.reason.lower()}"
        return _respond(ProblemDetails(type=problem_type(slug), title=e.reason, status=e.status, detail=detail))
    except Exception:  # the client gets a bare 500; the traceback goes to the log only
        log.exception("unexpected error in the inference API", method=request.method, path=request.path)
        return _respond(
            ProblemDetails(
                type=problem_type("internal"),
                title="Internal error",
                status=500,
                detail="the agent could not answer this request; see its log",
            )
        )


def _respond(problem: ProblemDetails) -> web.Response:
    return web.Response(
        status=problem.status,
        body=problem.model_dump_json(exclude_none=True),
        content_type=PROBLEM_CONTENT_TYPE,
    )
