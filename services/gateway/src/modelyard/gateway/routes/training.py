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
from modelyard.contracts.permissions import Permission
from modelyard.gateway import context
from modelyard.gateway.endpoints import Api, Endpoint, Link

api = Api("training")
routes = api.routes
JOB = {"id": "job_id"}
BASE = "/api/v1/training/jobs"
THE_JOB = {"id": "$response.body#/id"}
NEXT = {
    "GetJob": Link("get_job", THE_JOB),
    "JobMetrics": Link("job_metrics", THE_JOB),
    "JobLogs": Link("job_logs", THE_JOB),
    "JobCheckpoints": Link("job_checkpoints", THE_JOB),
    "CancelJob": Link("cancel_job", THE_JOB),
    "DeleteJob": Link("delete_job", THE_JOB),
}


@api.route(
    "GET",
    "/api/v1/training/config/default",
    "A framework's preset for a task",
    request=ConfigQuery,
    permission=Permission.TRAINING_READ,
    from_query=True,
    response=ResolvedConfig,
)
async def default_config(request: web.Request, ep: Endpoint[ConfigQuery, ResolvedConfig]) -> web.Response:
    """422 for a framework or task without a preset."""
    return ep.answer(await ep.call(request, subjects.SVC_CONFIG_DEFAULT))


@api.route(
    "POST",
    "/api/v1/training/config/resolve",
    "Resolve a config with overrides",
    request=ConfigResolve,
    permission=Permission.TRAINING_READ,
    from_body=True,
    response=ResolvedConfig,
)
async def resolve_config(request: web.Request, ep: Endpoint[ConfigResolve, ResolvedConfig]) -> web.Response:
    """The resolved YAML, its values and the equivalent `yolo` command line, or 422 with one error per field
    (`overrides.lr0`: developer mode only, out of range, unknown option...)."""
    return ep.answer(await ep.call(request, subjects.SVC_CONFIG_RESOLVE))


@api.route(
    "POST",
    BASE,
    "Submit a training job",
    request=JobCreate,
    permission=Permission.TRAINING_RUN,
    from_body=True,
    response=Job,
    status=202,
    errors={404, 409, 429},
    links=NEXT,
)
async def create_job(request: web.Request, ep: Endpoint[JobCreate, Job]) -> web.Response:
    """Queued for a trainer of its pool; 404 for an unknown dataset version, 422 for a config the preset refuses,
    429 past the plan's concurrent jobs or jobs per month."""
    job = await ep.call(request, subjects.SVC_JOB_CREATE)
    return ep.answer(job, headers={"Location": f"{BASE}/{job.id}"})


@api.route(
    "GET",
    BASE,
    "List training jobs",
    request=JobQuery,
    permission=Permission.TRAINING_READ,
    from_query=True,
    response=JobList,
    links={"GetFirstJob": Link("get_job", {"id": "$response.body#/jobs/0/id"})},
)
async def list_jobs(request: web.Request, ep: Endpoint[JobQuery, JobList]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_JOB_LIST))


@api.route(
    "GET",
    BASE + "/{id}",
    "Read a job and its recent epochs",
    request=JobRef,
    permission=Permission.TRAINING_READ,
    from_path=JOB,
    response=JobDetail,
)
async def get_job(request: web.Request, ep: Endpoint[JobRef, JobDetail]) -> web.Response:
    """Answered from the gateway's memory until the job's next change (`jobcache.py`)."""
    ref = await ep.payload(request)

    async def ask() -> bytes:
        return (await ep.call(request, subjects.SVC_JOB_GET)).model_dump_json().encode()

    body = await request.app[context.JOBS].get(context.principal(request).org_id, ref.job_id, ask)
    return web.Response(body=body, content_type="application/json")


@api.route(
    "POST",
    BASE + "/{id}/cancel",
    "Cancel a job",
    request=JobRef,
    permission=Permission.TRAINING_RUN,
    from_path=JOB,
    response=Job,
    errors={409},
)
async def cancel_job(request: web.Request, ep: Endpoint[JobRef, Job]) -> web.Response:
    """409 when the job has already ended."""
    job = await ep.call(request, subjects.SVC_JOB_CANCEL)
    request.app[context.JOBS].invalidate(job.id)  # this client reads its own write at once
    return ep.answer(job)


@api.route(
    "DELETE",
    BASE + "/{id}",
    "Delete a job",
    request=JobRef,
    permission=Permission.TRAINING_RUN,
    from_path=JOB,
    response=Job,
    errors={409},
)
async def delete_job(request: web.Request, ep: Endpoint[JobRef, Job]) -> web.Response:
    """409 while the job is still running."""
    job = await ep.call(request, subjects.SVC_JOB_DELETE)
    request.app[context.JOBS].invalidate(job.id)  # this client reads its own write at once
    return ep.answer(job)


@api.route(
    "GET",
    BASE + "/{id}/metrics",
    "A job's epochs",
    request=MetricsQuery,
    permission=Permission.TRAINING_READ,
    from_path=JOB,
    from_query=True,
    response=MetricsList,
)
async def job_metrics(request: web.Request, ep: Endpoint[MetricsQuery, MetricsList]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_JOB_METRICS))


@api.route(
    "GET",
    BASE + "/{id}/logs",
    "A job's log lines",
    request=LogsQuery,
    permission=Permission.TRAINING_READ,
    from_path=JOB,
    from_query=True,
    response=LogLines,
)
async def job_logs(request: web.Request, ep: Endpoint[LogsQuery, LogLines]) -> web.Response:
    """From `offset`; continue from `next_offset`."""
    return ep.answer(await ep.call(request, subjects.SVC_JOB_LOGS))


@api.route(
    "GET",
    BASE + "/{id}/checkpoints",
    "A job's checkpoints with download links",
    request=JobRef,
    permission=Permission.TRAINING_READ,
    from_path=JOB,
    response=CheckpointList,
)
async def job_checkpoints(request: web.Request, ep: Endpoint[JobRef, CheckpointList]) -> web.Response:
    return ep.answer(await ep.call(request, subjects.SVC_JOB_CHECKPOINTS))
