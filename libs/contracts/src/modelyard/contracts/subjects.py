"""Subject names and builders. The only place subject strings are spelled out (ARCHITECTURE.md, Streams)."""

from __future__ import annotations

# DATASETS stream
DATASETS_ALL = "dataset.>"
DATASET_CREATED = "dataset.created"
DATASET_UPDATED = "dataset.updated"
DATASET_ARCHIVED = "dataset.archived"
DATASET_SAMPLES_ADDED = "dataset.samples.added"
DATASET_SAMPLE_UPDATED = "dataset.sample.updated"
DATASET_SAMPLE_DELETED = "dataset.sample.deleted"
DATASET_SAMPLE_REVIEWED = "dataset.sample.reviewed"
DATASET_VERSION_PUBLISHED = "dataset.version.published"
DATASET_UPLOAD_FINALIZED = "dataset.upload.finalized"
DATASET_UPLOAD_COMPLETED = "dataset.upload.completed"
DATASET_UPLOAD_FAILED = "dataset.upload.failed"
DATASET_UPLOAD_EXPIRED = "dataset.upload.expired"

# JOBS stream
JOBS_ALL = "job.>"
JOB_QUEUED = "job.queued"
JOB_STATUS_TEMPLATE = "job.status.{job_id}"  # every change of a job, for live views
JOB_CANCEL_TEMPLATE = "job.cancel.{job_id}"  # the trainer running the job listens here
TRAINING_STARTED = "job.training.started"
TRAINING_CHECKPOINT = "job.training.checkpoint"
TRAINING_COMPLETED = "job.training.completed"
TRAINING_FAILED = "job.training.failed"
TRAINING_CANCELLED = "job.training.cancelled"
TRAINING_REPORTS = "job.training.>"
JOB_SUCCEEDED = "job.succeeded"  # the scheduler accepted a completion: what the registry registers

# DISPATCH stream (work queue): dispatch.<pool>.<priority>
DISPATCH_ALL = "dispatch.>"
DISPATCH_TEMPLATE = "dispatch.{pool}.{priority}"

# TELEMETRY stream
TELEMETRY_ALL = "telemetry.>"
TELEMETRY_METRICS_TEMPLATE = "telemetry.metrics.{job_id}"
TELEMETRY_LOGS_TEMPLATE = "telemetry.logs.{job_id}"

# MODELS stream
MODELS_ALL = "model.>"
MODEL_REGISTERED = "model.registered"
MODEL_STATUS_TEMPLATE = "model.status.{status}"  # testing, approved, rejected, deprecated
MODEL_RELEASED = "model.released"
MODEL_DEFAULT_SET = "model.default.set"

# EDGE stream
EDGE_DEPLOY_ALL = "edge.deploy.>"
EDGE_STATUS_ALL = "edge.status.>"
EDGE_HEARTBEAT_ALL = "edge.heartbeat.>"
EDGE_DEPLOY_TEMPLATE = "edge.deploy.{org_id}.{device_id}"
EDGE_STATUS_TEMPLATE = "edge.status.{device_id}"
EDGE_HEARTBEAT_TEMPLATE = "edge.heartbeat.{device_id}"

# AUDIT stream
AUDIT_ALL = "audit.>"
AUDIT_USER_CREATED = "audit.user.created"
AUDIT_TEMPLATE = "audit.{service}.{action}"

# core NATS notices, in no stream: every gateway replica drops a revoked API key (and refuses its tokens) at once
GATEWAY_KEY_REVOKED = "gateway.key.revoked"

# DLQ stream: dlq.<original subject>
DLQ_ALL = "dlq.>"
DLQ_PREFIX = "dlq."
# headers of a dead letter: why it died, after how many deliveries, at which consumer
DLQ_HEADER_PREFIX = "Modelyard-Dlq-"
DLQ_REASON_HEADER = "Modelyard-Dlq-Reason"
DLQ_DELIVERIES_HEADER = "Modelyard-Dlq-Deliveries"
DLQ_CONSUMER_HEADER = "Modelyard-Dlq-Consumer"

# Core NATS request/reply: svc.<service>.<operation>
SVC_DATASET_CREATE = "svc.dataset.create"
SVC_DATASET_GET = "svc.dataset.get"
SVC_DATASET_LIST = "svc.dataset.list"
SVC_DATASET_UPDATE = "svc.dataset.update"
SVC_DATASET_STATS = "svc.dataset.stats"
SVC_UPLOAD_CREATE = "svc.dataset.upload_create"
SVC_UPLOAD_GET = "svc.dataset.upload_get"
SVC_UPLOAD_CHUNK_TARGET = "svc.dataset.upload_chunk_target"
SVC_UPLOAD_CHUNK_RECEIVED = "svc.dataset.upload_chunk_received"
SVC_UPLOAD_FINALIZE = "svc.dataset.upload_finalize"
SVC_UPLOAD_ABORT = "svc.dataset.upload_abort"
SVC_SAMPLE_LIST = "svc.dataset.sample_list"
SVC_SAMPLE_ADD = "svc.dataset.sample_add"
SVC_SAMPLE_GET = "svc.dataset.sample_get"
SVC_SAMPLE_UPDATE = "svc.dataset.sample_update"
SVC_SAMPLE_DELETE = "svc.dataset.sample_delete"
SVC_SAMPLE_REVIEW = "svc.dataset.sample_review"
SVC_VERSION_PUBLISH = "svc.dataset.version_publish"
SVC_VERSION_LIST = "svc.dataset.version_list"
SVC_VERSION_GET = "svc.dataset.version_get"
SVC_VERSION_EXPORT = "svc.dataset.version_export"
SVC_CONFIG_DEFAULT = "svc.scheduler.config_default"
SVC_CONFIG_RESOLVE = "svc.scheduler.config_resolve"
SVC_JOB_CREATE = "svc.scheduler.job_create"
SVC_JOB_LIST = "svc.scheduler.job_list"
SVC_JOB_GET = "svc.scheduler.job_get"
SVC_JOB_CANCEL = "svc.scheduler.job_cancel"
SVC_JOB_DELETE = "svc.scheduler.job_delete"
SVC_JOB_METRICS = "svc.scheduler.job_metrics"
SVC_JOB_LOGS = "svc.scheduler.job_logs"
SVC_JOB_CHECKPOINTS = "svc.scheduler.job_checkpoints"
SVC_JOB_CLAIM = "svc.scheduler.job_claim"
SVC_MODEL_LIST = "svc.registry.model_list"
SVC_MODEL_GET = "svc.registry.model_get"
SVC_MODEL_UPDATE = "svc.registry.model_update"
SVC_MODEL_TRANSITION = "svc.registry.model_transition"  # test, approve, reject, deprecate
SVC_MODEL_RELEASE = "svc.registry.model_release"
SVC_MODEL_ROLLBACK = "svc.registry.model_rollback"
SVC_MODEL_SET_DEFAULT = "svc.registry.model_set_default"
SVC_MODEL_LINEAGE = "svc.registry.model_lineage"
SVC_MODEL_RELEASE_GET = "svc.registry.release_get"
SVC_MODEL_COMPARE = "svc.registry.model_compare"
SVC_MODULE_LIST = "svc.registry.module_list"
SVC_MODULE_REVERT = "svc.registry.module_revert"
SVC_REGISTRY_KEYS = "svc.registry.keys"
SVC_REGISTRY_SETTINGS_GET = "svc.registry.settings_get"
SVC_REGISTRY_SETTINGS_PUT = "svc.registry.settings_put"
SVC_ENROLLMENT_TOKEN_CREATE = "svc.distribution.enrollment_token_create"  # noqa: S105 - a subject
SVC_DEVICE_ENROLL = "svc.distribution.device_enroll"
SVC_DEVICE_LIST = "svc.distribution.device_list"
SVC_DEVICE_GET = "svc.distribution.device_get"
SVC_DEPLOYMENT_CREATE = "svc.distribution.deployment_create"
SVC_DEPLOYMENT_GET = "svc.distribution.deployment_get"
SVC_DEPLOYMENT_LIST = "svc.distribution.deployment_list"
SVC_DEPLOYMENT_PAUSE = "svc.distribution.deployment_pause"
SVC_DEPLOYMENT_RESUME = "svc.distribution.deployment_resume"
SVC_HEALTH_TEMPLATE = "svc.{service}.health"  # every service answers here once it is ready


def dispatch(pool: str, priority: str) -> str:
    return DISPATCH_TEMPLATE.format(pool=pool, priority=priority)


def telemetry_metrics(job_id: object) -> str:
    return TELEMETRY_METRICS_TEMPLATE.format(job_id=job_id)


def job_status(job_id: object) -> str:
    return JOB_STATUS_TEMPLATE.format(job_id=job_id)


def job_cancel(job_id: object) -> str:
    return JOB_CANCEL_TEMPLATE.format(job_id=job_id)


def telemetry_logs(job_id: object) -> str:
    return TELEMETRY_LOGS_TEMPLATE.format(job_id=job_id)


def service_health(service: str) -> str:
    return SVC_HEALTH_TEMPLATE.format(service=service)


def dead_letter(subject: str) -> str:
    return DLQ_PREFIX + subject


def matches(pattern: str, subject: str) -> bool:
    """NATS wildcard match: `*` is one token, `>` the rest (one token at least)."""
    want, got = pattern.split("."), subject.split(".")
    for i, part in enumerate(want):
        if part == ">":
            return len(got) > i
        if i >= len(got) or (part != "*" and part != got[i]):
            return False
    return len(want) == len(got)


def edge_deploy(org_id: object, device_id: object) -> str:
    return EDGE_DEPLOY_TEMPLATE.format(org_id=org_id, device_id=device_id)


def edge_status(device_id: object) -> str:
    return EDGE_STATUS_TEMPLATE.format(device_id=device_id)


def edge_heartbeat(device_id: object) -> str:
    return EDGE_HEARTBEAT_TEMPLATE.format(device_id=device_id)
