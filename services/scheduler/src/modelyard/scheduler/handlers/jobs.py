"""Jobs: submit (quotas, config resolution, dispatch), read, cancel, delete, metrics, logs, checkpoints; and the
trainers' claim, which hands out the attempt number that fences every later report."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from faststream.nats import NatsBroker

from modelyard.contracts import plans, subjects
from modelyard.contracts.api.datasets import Dataset, DatasetGet
from modelyard.contracts.api.identity import Principal
from modelyard.contracts.api.training import (
    Checkpoint,
    CheckpointList,
    Claim,
    ClaimGranted,
    ConfigResolve,
    Job,
    JobCreate,
    JobDetail,
    JobList,
    JobQuery,
    JobRef,
    JobStatus,
    LogLines,
    LogsQuery,
    MetricsList,
    MetricsQuery,
)
from modelyard.contracts.api.versions import DatasetVersion, VersionRef
from modelyard.contracts.events import JobCancelRequested
from modelyard.runtime import outbox
from modelyard.runtime.audit import audit
from modelyard.runtime.rpc import responder
from modelyard.scheduler import lifecycle
from modelyard.scheduler.deps import Deps
from modelyard.scheduler.errors import ClaimRefused, CustomTrainingNotIncluded, JobFinished, JobQuotaExceeded
from modelyard.scheduler.handlers.config import resolve
from modelyard.scheduler.settings import QUEUE


def register(broker: NatsBroker, deps: Deps) -> None:
    jobs = deps.jobs

    # who may submit, cancel and delete jobs (training:run) is checked by the responder, from the permission matrix
    @responder(broker, subjects.SVC_JOB_CREATE, JobCreate, queue=QUEUE)
    async def create(principal: Principal, spec: JobCreate, correlation_id: str) -> Job:
        limits = plans.limits(principal.plan)
        if not limits.custom_training:  # before the quotas: no number of jobs is allowed on such a plan
            raise CustomTrainingNotIncluded(f"the {principal.plan.value} plan does not include custom training")
        dataset = await deps.rpc.call(
            subjects.SVC_DATASET_GET, principal, DatasetGet(id=spec.dataset_id), correlation_id, Dataset
        )
        version = await deps.rpc.call(
            subjects.SVC_VERSION_GET,
            principal,
            VersionRef(dataset_id=spec.dataset_id, version=spec.dataset_version),
            correlation_id,
            DatasetVersion,
        )
        task = spec.task or dataset.task.value
        config = resolve(ConfigResolve(framework=spec.framework, task=task, mode=spec.mode, overrides=spec.overrides))
        job_id = uuid.uuid4()
        async with deps.pool.acquire() as conn, conn.transaction():
            # one organisation's submissions go one at a time, so two cannot both take the last slot
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"quota:{principal.org_id}")
            active, this_month = await jobs.counts(conn, principal.org_id)
            if active >= limits.max_concurrent_jobs:
                raise JobQuotaExceeded(
                    f"the {principal.plan.value} plan runs {limits.max_concurrent_jobs} job(s) at a time; "
                    f"{active} are pending, queued or running"
                )
            if this_month >= limits.jobs_per_month:
                raise JobQuotaExceeded(f"the {principal.plan.value} plan allows {limits.jobs_per_month} jobs a month")
            await jobs.count_submission(conn, principal.org_id)
            await jobs.insert(
                conn,
                {
                    "id": job_id,
                    "org_id": principal.org_id,
                    "name": spec.name,
                    "dataset_id": spec.dataset_id,
                    "dataset_version": spec.dataset_version,
                    "manifest_sha256": version.manifest_sha256,
                    "manifest_key": version.manifest_key,
                    "ai_module": dataset.ai_module,
                    "framework": spec.framework,
                    "task": task,
                    "mode": spec.mode.value,
                    "overrides": spec.overrides,
                    "config": config.values,
                    "priority": spec.priority.value,
                    "pool": spec.pool.value,
                    "status": JobStatus.PENDING.value,
                    "total_epochs": int(config.values.get("epochs", 0)),
                    "created_by": principal.actor,
                    "model_version": spec.model_version,
                },
            )
            await outbox.enqueue(
                conn,
                audit(
                    principal,
                    correlation_id,
                    service="scheduler",
                    action="job_submitted",
                    resource_type="job",
                    resource_id=job_id,
                    dataset_id=str(spec.dataset_id),
                    version=spec.dataset_version,
                ),
            )
            # the submission is the audited fact; its first dispatch is part of it
            await lifecycle.dispatch(
                conn, jobs, await jobs.row(principal.org_id, job_id, conn), correlation_id, audited=False
            )
        return await jobs.public(principal.org_id, job_id)

    @responder(broker, subjects.SVC_JOB_LIST, JobQuery, queue=QUEUE)
    async def list_(principal: Principal, query: JobQuery, correlation_id: str) -> JobList:
        return await jobs.page(principal.org_id, query)

    @responder(broker, subjects.SVC_JOB_GET, JobRef, queue=QUEUE)
    async def get(principal: Principal, ref: JobRef, correlation_id: str) -> JobDetail:
        async with deps.pool.acquire() as conn:  # one connection for the three reads: each release resets it
            job = await jobs.public(principal.org_id, ref.job_id, conn)
            return JobDetail(job=job, recent_metrics=await jobs.metrics(ref.job_id, 10, latest=True, conn=conn))

    @responder(broker, subjects.SVC_JOB_METRICS, MetricsQuery, queue=QUEUE)
    async def metrics(principal: Principal, query: MetricsQuery, correlation_id: str) -> MetricsList:
        await jobs.row(principal.org_id, query.job_id)
        return MetricsList(metrics=await jobs.metrics(query.job_id, query.limit))

    @responder(broker, subjects.SVC_JOB_LOGS, LogsQuery, queue=QUEUE)
    async def logs(principal: Principal, query: LogsQuery, correlation_id: str) -> LogLines:
        await jobs.row(principal.org_id, query.job_id)
        lines, next_offset = await jobs.logs(query.job_id, query.offset, query.limit)
        return LogLines(lines=lines, next_offset=next_offset)

    @responder(broker, subjects.SVC_JOB_CHECKPOINTS, JobRef, queue=QUEUE)
    async def checkpoints(principal: Principal, ref: JobRef, correlation_id: str) -> CheckpointList:
        await jobs.row(principal.org_id, ref.job_id)
        ttl = timedelta(seconds=deps.settings.presign_ttl_s)
        return CheckpointList(
            checkpoints=[
                Checkpoint(
                    name=a.name,
                    size=a.size,
                    sha256=a.sha256,
                    epoch=a.epoch,
                    url=await deps.store.presigned_get(a.key, ttl),
                )
                for a in await jobs.artifacts(ref.job_id)
            ]
        )

    @responder(broker, subjects.SVC_JOB_CANCEL, JobRef, queue=QUEUE)
    async def cancel(principal: Principal, ref: JobRef, correlation_id: str) -> Job:
        async with deps.pool.acquire() as conn, conn.transaction():
            job = await jobs.row(principal.org_id, ref.job_id, conn, lock=True)
            if job.status.final:
                raise JobFinished(ref.job_id, job.status.value)
            if job.status is JobStatus.RUNNING:
                # the trainer stops the run and reports TrainingCancelled; until then the job is still running, so
                # the user's fact is the request (`job.cancel_requested`); `job.cancelled` follows with the report
                await jobs.update(conn, ref.job_id, {"cancel_requested": True})
                await outbox.enqueue(
                    conn,
                    JobCancelRequested(
                        correlation_id=correlation_id, org_id=principal.org_id, actor=principal.actor, job_id=ref.job_id
                    ),
                    audit(
                        principal,
                        correlation_id,
                        service="scheduler",
                        action="job_cancel_requested",
                        resource_type="job",
                        resource_id=ref.job_id,
                        attempt=job["attempt"],
                    ),
                )
            else:
                # audited by the change itself, as `job.cancelled` by the user
                await lifecycle.change(
                    conn,
                    jobs,
                    job,
                    {"status": JobStatus.CANCELLED.value, "cancel_requested": True, "finished_at": datetime.now(UTC)},
                    correlation_id,
                    actor=principal.actor,
                )
        return await jobs.public(principal.org_id, ref.job_id)

    @responder(broker, subjects.SVC_JOB_DELETE, JobRef, queue=QUEUE)
    async def delete(principal: Principal, ref: JobRef, correlation_id: str) -> Job:
        """Cancels the job if it runs, then removes its rows and its files."""
        async with deps.pool.acquire() as conn, conn.transaction():
            job = await jobs.row(principal.org_id, ref.job_id, conn, lock=True)
            public = job.public(await jobs.artifacts(ref.job_id, conn))
            if job.status is JobStatus.RUNNING:
                await outbox.enqueue(
                    conn,
                    JobCancelRequested(
                        correlation_id=correlation_id, org_id=principal.org_id, actor=principal.actor, job_id=ref.job_id
                    ),
                )
            await jobs.delete(conn, ref.job_id)
            await outbox.enqueue(
                conn,
                audit(
                    principal,
                    correlation_id,
                    service="scheduler",
                    action="job_deleted",
                    resource_type="job",
                    resource_id=ref.job_id,
                ),
            )
        for stored in await deps.store.list_objects(f"jobs/{ref.job_id}/"):
            await deps.store.delete(stored.key)
        return public

    @responder(broker, subjects.SVC_JOB_CLAIM, Claim, queue=QUEUE)
    async def claim(principal: Principal, claim: Claim, correlation_id: str) -> ClaimGranted:
        """A trainer took a dispatch message. The first delivery of a queued job starts attempt 1; a redelivery
        (the lease of the trainer before ran out) takes the job over with the next attempt, resuming from the
        last checkpoint."""
        async with deps.pool.acquire() as conn, conn.transaction():
            job = await jobs.row(None, claim.job_id, conn, lock=True)
            if job.status.final or job["cancel_requested"]:
                raise ClaimRefused(f"job {claim.job_id} is {job.status.value}", gone=True)
            if job.status is JobStatus.RUNNING and claim.delivery == 1:
                raise ClaimRefused(f"job {claim.job_id} is already running on {job['trainer_id']}", gone=True)
            attempt = job["attempt"] + 1
            saved = {a.name: a for a in await jobs.artifacts(claim.job_id, conn)}
            last, best = saved.get("last.pt"), saved.get("best.pt")
            updated = await lifecycle.change(
                conn,
                jobs,
                job,
                {
                    "status": JobStatus.RUNNING.value,
                    "attempt": attempt,
                    "trainer_id": claim.trainer_id,
                    "started_at": job["started_at"] or datetime.now(UTC),
                    "resume_epoch": (last.epoch or 0) if last else 0,
                },
                correlation_id,
                # trainers call as the platform's service principal: the actor is the trainer that claimed
                actor=f"service:trainer:{claim.trainer_id}",
            )
        return ClaimGranted(
            job_id=claim.job_id,
            attempt=attempt,
            org_id=updated["org_id"],
            framework=updated["framework"],
            task=updated["task"],
            config=updated["config"],
            manifest_key=updated["manifest_key"],
            manifest_sha256=updated["manifest_sha256"],
            dataset_id=updated["dataset_id"],
            dataset_version=updated["dataset_version"],
            resume_key=last.key if last else None,
            resume_best_key=best.key if best and last else None,
            metrics_so_far=updated["current_epoch"],
        )
