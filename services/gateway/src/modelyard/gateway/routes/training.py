"""Training: config presets and resolution, jobs, their metrics, logs and checkpoints (owned by the scheduler)."""

from __future__ import annotations

from aiohttp import web

from modelyard.contracts import subjects
from modelyard.contracts.api.training import (
    CheckpointList,
    ConfigQuery,
    ConfigResolve,
    Job,
    JobCreate,
    JobDetail,
    JobList,
    JobQuery,
    JobRef,
    LogLines,
    LogsQuery,
    MetricsList,
    MetricsQuery,
    ResolvedConfig,
)
from modelyard.gateway.forward import answer, call

routes = web.RouteTableDef()
JOB = {"id": "job_id"}
BASE = "/api/v1/training/jobs"


@routes.get("/api/v1/training/config/default")
async def default_config(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_CONFIG_DEFAULT, ConfigQuery, ResolvedConfig, use_query=True))


@routes.post("/api/v1/training/config/resolve")
async def resolve_config(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_CONFIG_RESOLVE, ConfigResolve, ResolvedConfig, use_body=True))


@routes.post(BASE)
async def create_job(request: web.Request) -> web.Response:
    job = await call(request, subjects.SVC_JOB_CREATE, JobCreate, Job, use_body=True)
    return answer(job, 202, {"Location": f"{BASE}/{job.id}"})


@routes.get(BASE)
async def list_jobs(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_JOB_LIST, JobQuery, JobList, use_query=True))


@routes.get(BASE + "/{id}")
async def get_job(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_JOB_GET, JobRef, JobDetail, path=JOB))


@routes.post(BASE + "/{id}/cancel")
async def cancel_job(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_JOB_CANCEL, JobRef, Job, path=JOB))


@routes.delete(BASE + "/{id}")
async def delete_job(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_JOB_DELETE, JobRef, Job, path=JOB))


@routes.get(BASE + "/{id}/metrics")
async def job_metrics(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_JOB_METRICS, MetricsQuery, MetricsList, path=JOB, use_query=True))


@routes.get(BASE + "/{id}/logs")
async def job_logs(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_JOB_LOGS, LogsQuery, LogLines, path=JOB, use_query=True))


@routes.get(BASE + "/{id}/checkpoints")
async def job_checkpoints(request: web.Request) -> web.Response:
    return answer(await call(request, subjects.SVC_JOB_CHECKPOINTS, JobRef, CheckpointList, path=JOB))
