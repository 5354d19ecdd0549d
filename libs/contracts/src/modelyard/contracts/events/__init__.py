"""Every event Modelyard publishes. Importing this package registers them all for `envelope.decode`."""

from modelyard.contracts.events.audit import AuditRecorded
from modelyard.contracts.events.dataset import (
    DatasetArchived,
    DatasetCreated,
    DatasetUpdated,
    DatasetVersionPublished,
    SampleDeleted,
    SampleReviewed,
    SamplesAdded,
    SampleUpdated,
)
from modelyard.contracts.events.edge import DeployRequested, DeviceHeartbeat, DeviceStatusReported
from modelyard.contracts.events.identity import UserCreated
from modelyard.contracts.events.model import DefaultModelSet, ModelRegistered, ModelReleased, ModelStatusChanged
from modelyard.contracts.events.training import (
    CheckpointSaved,
    EpochReported,
    JobCancelRequested,
    JobDispatched,
    JobQueued,
    JobStatusChanged,
    JobSucceeded,
    LogsReported,
    TrainingCancelled,
    TrainingCompleted,
    TrainingFailed,
    TrainingStarted,
)
from modelyard.contracts.events.upload import UploadCompleted, UploadExpired, UploadFailed, UploadFinalized

__all__ = [
    "AuditRecorded",
    "CheckpointSaved",
    "DatasetArchived",
    "DatasetCreated",
    "DatasetUpdated",
    "DatasetVersionPublished",
    "DefaultModelSet",
    "DeployRequested",
    "DeviceHeartbeat",
    "DeviceStatusReported",
    "EpochReported",
    "JobCancelRequested",
    "JobDispatched",
    "JobQueued",
    "JobStatusChanged",
    "JobSucceeded",
    "LogsReported",
    "ModelRegistered",
    "ModelReleased",
    "ModelStatusChanged",
    "SampleDeleted",
    "SampleReviewed",
    "SampleUpdated",
    "SamplesAdded",
    "TrainingCancelled",
    "TrainingCompleted",
    "TrainingFailed",
    "TrainingStarted",
    "UploadCompleted",
    "UploadExpired",
    "UploadFailed",
    "UploadFinalized",
    "UserCreated",
]
