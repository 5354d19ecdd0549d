"""The one permission matrix: what each role may do, and what each service request needs.

Every service enforces it on the requests it answers (`modelyard.runtime.rpc.responder` looks the subject up in
`SUBJECTS` before the handler runs), the gateway checks the same permission before it forwards anything, and its
OpenAPI document names it per operation (`x-permission`). A finer check inside a handler (approving a model needs
`model:approve`, where the transition subject itself needs only `model:edit`) uses the same table.

An API key may carry scopes: a subset of its user's permissions. What a caller may do is its role's permissions,
narrowed to its key's scopes when it has any."""

from __future__ import annotations

from enum import StrEnum

from modelyard.contracts import subjects


class Role(StrEnum):
    SUPER_ADMIN = "super_admin"
    ORG_ADMIN = "org_admin"
    ML_ENGINEER = "ml_engineer"
    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"
    VIEWER = "viewer"

    @property
    def is_admin(self) -> bool:
        return self in (Role.SUPER_ADMIN, Role.ORG_ADMIN)

    def may_grant(self, other: Role) -> bool:
        """Admins create users; only a super admin creates another super admin."""
        return self is Role.SUPER_ADMIN or (self is Role.ORG_ADMIN and other is not Role.SUPER_ADMIN)


class Permission(StrEnum):
    DATASET_READ = "dataset:read"
    DATASET_MANAGE = "dataset:manage"  # create and change datasets, upload, publish versions, delete samples
    SAMPLE_LABEL = "sample:label"  # add samples, their labels and ratings
    SAMPLE_REVIEW = "sample:review"  # approve or reject samples
    TRAINING_READ = "training:read"  # presets, jobs, metrics, logs, checkpoints
    TRAINING_RUN = "training:run"  # submit, cancel and delete jobs
    MODEL_READ = "model:read"
    MODEL_EDIT = "model:edit"  # notes, send a draft to testing
    MODEL_APPROVE = "model:approve"  # approve, reject, deprecate, release, rollback, default, revert, settings
    DEVICE_READ = "device:read"  # devices and deployments
    DEVICE_MANAGE = "device:manage"  # enrollment tokens, deployments, pause and resume
    AUDIT_READ = "audit:read"
    USER_MANAGE = "user:manage"  # users of the caller's org
    KEY_MANAGE = "key:manage"  # the caller's own API keys and access tokens
    ORG_MANAGE = "org:manage"  # create and list organisations (every org)


READS = frozenset(
    {
        Permission.DATASET_READ,
        Permission.TRAINING_READ,
        Permission.MODEL_READ,
        Permission.DEVICE_READ,
        Permission.KEY_MANAGE,
    }
)

ROLES: dict[Role, frozenset[Permission]] = {
    Role.SUPER_ADMIN: frozenset(Permission),
    Role.ORG_ADMIN: frozenset(Permission) - {Permission.ORG_MANAGE},
    Role.ML_ENGINEER: READS
    | {
        Permission.DATASET_MANAGE,
        Permission.SAMPLE_LABEL,
        Permission.TRAINING_RUN,
        Permission.MODEL_EDIT,
    },
    Role.ANNOTATOR: READS | {Permission.SAMPLE_LABEL},
    Role.REVIEWER: READS | {Permission.SAMPLE_REVIEW},
    Role.VIEWER: READS,
}

# service request subject → the permission it needs; None: not a user's request (a trainer's claim, a device's
# enrollment with its one-time token), checked by the handler itself
SUBJECTS: dict[str, Permission | None] = {
    subjects.SVC_DATASET_CREATE: Permission.DATASET_MANAGE,
    subjects.SVC_DATASET_GET: Permission.DATASET_READ,
    subjects.SVC_DATASET_LIST: Permission.DATASET_READ,
    subjects.SVC_DATASET_UPDATE: Permission.DATASET_MANAGE,
    subjects.SVC_DATASET_STATS: Permission.DATASET_READ,
    subjects.SVC_UPLOAD_CREATE: Permission.DATASET_MANAGE,
    subjects.SVC_UPLOAD_GET: Permission.DATASET_READ,
    subjects.SVC_UPLOAD_CHUNK_TARGET: Permission.DATASET_MANAGE,
    subjects.SVC_UPLOAD_CHUNK_RECEIVED: Permission.DATASET_MANAGE,
    subjects.SVC_UPLOAD_FINALIZE: Permission.DATASET_MANAGE,
    subjects.SVC_UPLOAD_ABORT: Permission.DATASET_MANAGE,
    subjects.SVC_SAMPLE_LIST: Permission.DATASET_READ,
    subjects.SVC_SAMPLE_ADD: Permission.SAMPLE_LABEL,
    subjects.SVC_SAMPLE_GET: Permission.DATASET_READ,
    subjects.SVC_SAMPLE_UPDATE: Permission.SAMPLE_LABEL,
    subjects.SVC_SAMPLE_DELETE: Permission.DATASET_MANAGE,
    subjects.SVC_SAMPLE_REVIEW: Permission.SAMPLE_REVIEW,
    subjects.SVC_VERSION_PUBLISH: Permission.DATASET_MANAGE,
    subjects.SVC_VERSION_LIST: Permission.DATASET_READ,
    subjects.SVC_VERSION_GET: Permission.DATASET_READ,
    subjects.SVC_VERSION_EXPORT: Permission.DATASET_READ,
    subjects.SVC_CONFIG_DEFAULT: Permission.TRAINING_READ,
    subjects.SVC_CONFIG_RESOLVE: Permission.TRAINING_READ,
    subjects.SVC_JOB_CREATE: Permission.TRAINING_RUN,
    subjects.SVC_JOB_LIST: Permission.TRAINING_READ,
    subjects.SVC_JOB_GET: Permission.TRAINING_READ,
    subjects.SVC_JOB_CANCEL: Permission.TRAINING_RUN,
    subjects.SVC_JOB_DELETE: Permission.TRAINING_RUN,
    subjects.SVC_JOB_METRICS: Permission.TRAINING_READ,
    subjects.SVC_JOB_LOGS: Permission.TRAINING_READ,
    subjects.SVC_JOB_CHECKPOINTS: Permission.TRAINING_READ,
    subjects.SVC_JOB_CLAIM: None,
    subjects.SVC_MODEL_LIST: Permission.MODEL_READ,
    subjects.SVC_MODEL_GET: Permission.MODEL_READ,
    subjects.SVC_MODEL_UPDATE: Permission.MODEL_EDIT,
    subjects.SVC_MODEL_TRANSITION: Permission.MODEL_EDIT,
    subjects.SVC_MODEL_RELEASE: Permission.MODEL_APPROVE,
    subjects.SVC_MODEL_ROLLBACK: Permission.MODEL_APPROVE,
    subjects.SVC_MODEL_SET_DEFAULT: Permission.MODEL_APPROVE,
    subjects.SVC_MODEL_LINEAGE: Permission.MODEL_READ,
    subjects.SVC_MODEL_RELEASE_GET: Permission.MODEL_READ,
    subjects.SVC_MODEL_COMPARE: Permission.MODEL_READ,
    subjects.SVC_MODULE_LIST: Permission.MODEL_READ,
    subjects.SVC_MODULE_REVERT: Permission.MODEL_APPROVE,
    subjects.SVC_REGISTRY_KEYS: Permission.MODEL_READ,
    subjects.SVC_REGISTRY_SETTINGS_GET: Permission.MODEL_READ,
    subjects.SVC_REGISTRY_SETTINGS_PUT: Permission.MODEL_APPROVE,
    subjects.SVC_ENROLLMENT_TOKEN_CREATE: Permission.DEVICE_MANAGE,
    subjects.SVC_DEVICE_ENROLL: None,
    subjects.SVC_DEVICE_LIST: Permission.DEVICE_READ,
    subjects.SVC_DEVICE_GET: Permission.DEVICE_READ,
    subjects.SVC_DEPLOYMENT_CREATE: Permission.DEVICE_MANAGE,
    subjects.SVC_DEPLOYMENT_GET: Permission.DEVICE_READ,
    subjects.SVC_DEPLOYMENT_LIST: Permission.DEVICE_READ,
    subjects.SVC_DEPLOYMENT_PAUSE: Permission.DEVICE_MANAGE,
    subjects.SVC_DEPLOYMENT_RESUME: Permission.DEVICE_MANAGE,
}


def granted(role: Role, scopes: frozenset[Permission] | None = None) -> frozenset[Permission]:
    """What a caller with this role (and, when its key has any, these scopes) may do."""
    held = ROLES[role]
    return held if scopes is None else held & scopes
