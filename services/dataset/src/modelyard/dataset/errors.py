"""Errors of the dataset service; the category (runtime.problems) decides the HTTP status."""

from __future__ import annotations

from uuid import UUID

from modelyard.contracts.api.problems import FieldError
from modelyard.runtime.problems import Conflict, InvalidInput, NotFound, QuotaExceeded


class DatasetNotFound(NotFound):
    slug = "dataset-not-found"
    title = "Dataset not found"

    def __init__(self, dataset_id: UUID) -> None:
        super().__init__(f"dataset {dataset_id} does not exist in this organisation", dataset_id=str(dataset_id))


class DatasetNameTaken(Conflict):
    slug = "dataset-name-taken"
    title = "Dataset name already used"

    def __init__(self, name: str) -> None:
        super().__init__(f"a dataset named {name!r} already exists in this organisation", name=name)


class DatasetIsArchived(Conflict):
    slug = "dataset-archived"
    title = "Dataset is archived"

    def __init__(self, dataset_id: UUID) -> None:
        super().__init__(f"dataset {dataset_id} is archived and cannot change", dataset_id=str(dataset_id))


class ClassListShrunk(InvalidInput):
    slug = "class-list-shrunk"
    title = "Class names may only be added"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, errors=[FieldError(field="class_names", message=detail, code="class_list_shrunk")])


class UploadNotFound(NotFound):
    slug = "upload-not-found"
    title = "Upload not found"

    def __init__(self, upload_id: UUID) -> None:
        super().__init__(f"upload {upload_id} does not exist in this organisation", upload_id=str(upload_id))


class UploadNotReceiving(Conflict):
    slug = "upload-not-receiving"
    title = "Upload no longer takes chunks"

    def __init__(self, upload_id: UUID, state: str) -> None:
        super().__init__(f"upload {upload_id} is {state}", upload_id=str(upload_id), state=state)


class UploadIncomplete(Conflict):
    slug = "upload-incomplete"
    title = "Chunks are missing"

    def __init__(self, missing: list[int]) -> None:
        shown = ", ".join(str(i) for i in missing[:20]) + (" ..." if len(missing) > 20 else "")
        super().__init__(f"{len(missing)} chunk(s) missing: {shown}", missing=missing)


class UploadHashMismatch(InvalidInput):
    slug = "upload-sha256-mismatch"
    title = "The file's sha256 does not match"

    def __init__(self, expected: str, actual: str) -> None:
        detail = f"the uploaded file's sha256 is {actual}, the upload was created for {expected}"
        super().__init__(detail, errors=[FieldError(field="sha256", message=detail, code="sha256_mismatch")])


class ChunkOutOfRange(InvalidInput):
    slug = "chunk-out-of-range"
    title = "No such chunk"

    def __init__(self, index: int, count: int) -> None:
        detail = f"chunk index {index} is outside 0..{count - 1}"
        super().__init__(detail, errors=[FieldError(field="index", message=detail, code="out_of_range")])


class UploadTooLarge(QuotaExceeded):
    slug = "upload-too-large"
    title = "Upload larger than the plan allows"

    def __init__(self, size: int, limit: int, plan: str) -> None:
        super().__init__(f"{size} bytes is over the {plan} plan's limit of {limit} bytes per upload")


def human_bytes(n: int) -> str:
    """`10 GiB`, `9.8 GiB`, `512 MiB`, `700 B`: at most two decimals, in the largest unit that keeps a whole."""
    for unit, scale in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.2f}".rstrip("0").rstrip(".") + f" {unit}"
    return f"{n} B"


class DatasetTooLarge(QuotaExceeded):
    """The dataset would hold more than the plan's `max_dataset_bytes`: at upload creation with the declared size
    (`verb` "declares"), in the importer with the bytes the new samples really take ("adds")."""

    slug = "dataset-too-large"
    title = "Dataset larger than the plan allows"

    def __init__(self, plan: str, limit: int, current: int, size: int, *, verb: str = "declares") -> None:
        super().__init__(
            f"the {plan} plan allows {human_bytes(limit)} per dataset; this one holds {human_bytes(current)} "
            f"and the upload {verb} {human_bytes(size)}",
            plan=plan,
            limit=limit,
            current=current,
            size=size,
        )


class TooManyOpenUploads(QuotaExceeded):
    slug = "too-many-open-uploads"
    title = "Too many unfinished uploads"

    def __init__(self, limit: int, plan: str) -> None:
        super().__init__(f"the {plan} plan allows {limit} unfinished uploads; finish or abort one first")


class SampleNotFound(NotFound):
    slug = "sample-not-found"
    title = "Sample not found"

    def __init__(self, sample_id: UUID) -> None:
        super().__init__(f"sample {sample_id} does not exist in this dataset", sample_id=str(sample_id))


class BlobNotFound(InvalidInput):
    slug = "blob-not-found"
    title = "No stored file has this sha256"

    def __init__(self, sha256: str) -> None:
        detail = f"no file with sha256 {sha256} is stored in this organisation; upload it first"
        super().__init__(detail, errors=[FieldError(field="sha256", message=detail, code="unknown_blob")])


class LabelsInvalid(InvalidInput):
    slug = "labels-invalid"
    title = "Labels do not fit the dataset"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, errors=[FieldError(field="labels", message=detail, code="labels_invalid")])


class VersionNotFound(NotFound):
    slug = "version-not-found"
    title = "Dataset version not found"

    def __init__(self, dataset_id: UUID, version: int) -> None:
        super().__init__(f"dataset {dataset_id} has no version {version}")


class NothingToPublish(Conflict):
    slug = "nothing-to-publish"
    title = "No samples to publish"

    def __init__(self, include: str) -> None:
        super().__init__(f"the dataset has no samples to publish with include={include}")
