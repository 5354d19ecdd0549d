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
from modelyard.contracts.events.identity import UserCreated
from modelyard.contracts.events.upload import UploadCompleted, UploadExpired, UploadFailed, UploadFinalized

__all__ = [
    "AuditRecorded",
    "DatasetArchived",
    "DatasetCreated",
    "DatasetUpdated",
    "DatasetVersionPublished",
    "SampleDeleted",
    "SampleReviewed",
    "SampleUpdated",
    "SamplesAdded",
    "UploadCompleted",
    "UploadExpired",
    "UploadFailed",
    "UploadFinalized",
    "UserCreated",
]
