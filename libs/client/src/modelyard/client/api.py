"""Typed Python client of the gateway's HTTP API. Errors come back as `ApiError` carrying the ProblemDetails."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self
from uuid import UUID

import aiohttp
import httpx

from modelyard.contracts.api.common import Health, VersionInfo
from modelyard.contracts.api.datasets import Dataset, DatasetCreate, DatasetList, DatasetStats
from modelyard.contracts.api.identity import Role, User, UserWithKey
from modelyard.contracts.api.problems import ProblemDetails
from modelyard.contracts.api.samples import Sample, SampleList
from modelyard.contracts.api.training import (
    CheckpointList,
    Job,
    JobCreate,
    JobDetail,
    JobList,
    LogLines,
    MetricsList,
    ResolvedConfig,
)
from modelyard.contracts.api.uploads import Upload, UploadCreate
from modelyard.contracts.api.versions import DatasetVersion, ExportLink, VersionList


class ApiError(Exception):
    def __init__(self, problem: ProblemDetails) -> None:
        super().__init__(f"{problem.status} {problem.title}: {problem.detail or ''}".strip())
        self.problem = problem


class ModelyardClient:
    def __init__(self, base_url: str, token: str | None = None, *, timeout_s: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout_s)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._http.request(method, path, **kwargs)
        if response.status_code >= 400:
            try:
                problem = ProblemDetails.model_validate(response.json())
            except ValueError:
                problem = ProblemDetails(
                    type="about:blank", title=response.reason_phrase, status=response.status_code, detail=response.text
                )
            raise ApiError(problem)
        return response.json()

    async def health(self) -> Health:
        return Health.model_validate(await self._request("GET", "/healthz"))

    async def version(self) -> VersionInfo:
        return VersionInfo.model_validate(await self._request("GET", "/api/v1/version"))

    async def me(self) -> User:
        return User.model_validate(await self._request("GET", "/api/v1/me"))

    async def create_user(self, name: str, role: Role) -> UserWithKey:
        body = {"name": name, "role": role.value}
        return UserWithKey.model_validate(await self._request("POST", "/api/v1/users", json=body))

    async def create_dataset(self, spec: DatasetCreate) -> Dataset:
        body = spec.model_dump(mode="json", exclude_defaults=True)
        return Dataset.model_validate(await self._request("POST", "/api/v1/datasets", json=body))

    async def get_dataset(self, dataset_id: UUID) -> Dataset:
        return Dataset.model_validate(await self._request("GET", f"/api/v1/datasets/{dataset_id}"))

    async def list_datasets(self, **filters: Any) -> DatasetList:
        params = {k: v for k, v in filters.items() if v is not None}
        return DatasetList.model_validate(await self._request("GET", "/api/v1/datasets", params=params))

    async def update_dataset(self, dataset_id: UUID, **changes: Any) -> Dataset:
        body = {k: v for k, v in changes.items() if v is not None}
        return Dataset.model_validate(await self._request("PATCH", f"/api/v1/datasets/{dataset_id}", json=body))

    async def dataset_stats(self, dataset_id: UUID) -> DatasetStats:
        return DatasetStats.model_validate(await self._request("GET", f"/api/v1/datasets/{dataset_id}/stats"))

    # uploads

    async def create_upload(self, spec: UploadCreate) -> Upload:
        return Upload.model_validate(await self._request("POST", "/api/v1/uploads", json=spec.model_dump(mode="json")))

    async def get_upload(self, upload_id: UUID) -> Upload:
        return Upload.model_validate(await self._request("GET", f"/api/v1/uploads/{upload_id}"))

    async def put_chunk(self, upload_id: UUID, index: int, data: bytes, sha256: str | None = None) -> Upload:
        digest = sha256 or hashlib.sha256(data).hexdigest()
        headers = {"X-Chunk-Sha256": digest, "Content-Type": "application/octet-stream"}
        path = f"/api/v1/uploads/{upload_id}/chunks/{index}"
        return Upload.model_validate(await self._request("PUT", path, content=data, headers=headers))

    async def abort_upload(self, upload_id: UUID) -> Upload:
        return Upload.model_validate(await self._request("DELETE", f"/api/v1/uploads/{upload_id}"))

    async def finalize_upload(self, upload_id: UUID) -> Upload:
        return Upload.model_validate(await self._request("POST", f"/api/v1/uploads/{upload_id}/finalize"))

    async def wait_upload(self, upload_id: UUID, *, timeout_s: float = 300.0, poll_s: float = 0.2) -> Upload:
        """Poll until the upload is completed, failed or expired."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            upload = await self.get_upload(upload_id)
            if upload.state.final:
                return upload
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"upload {upload_id} still {upload.state.value} after {timeout_s}s")
            await asyncio.sleep(poll_s)

    # samples and review

    async def list_samples(self, dataset_id: UUID, **filters: Any) -> SampleList:
        params = {k: v for k, v in filters.items() if v is not None}
        path = f"/api/v1/datasets/{dataset_id}/samples"
        return SampleList.model_validate(await self._request("GET", path, params=params))

    async def label_sample(self, dataset_id: UUID, sample_id: UUID, **changes: Any) -> Sample:
        path = f"/api/v1/datasets/{dataset_id}/samples/{sample_id}"
        return Sample.model_validate(await self._request("PATCH", path, json=changes))

    async def review_sample(
        self, dataset_id: UUID, sample_id: UUID, decision: str, reason: str | None = None
    ) -> Sample:
        path = f"/api/v1/datasets/{dataset_id}/samples/{sample_id}/review"
        body = {"decision": decision} | ({"reason": reason} if reason else {})
        return Sample.model_validate(await self._request("POST", path, json=body))

    # versions

    async def publish_version(self, dataset_id: UUID, **options: Any) -> DatasetVersion:
        path = f"/api/v1/datasets/{dataset_id}/versions"
        return DatasetVersion.model_validate(await self._request("POST", path, json=options))

    async def list_versions(self, dataset_id: UUID) -> VersionList:
        return VersionList.model_validate(await self._request("GET", f"/api/v1/datasets/{dataset_id}/versions"))

    async def get_version(self, dataset_id: UUID, version: int) -> DatasetVersion:
        path = f"/api/v1/datasets/{dataset_id}/versions/{version}"
        return DatasetVersion.model_validate(await self._request("GET", path))

    async def export_version(self, dataset_id: UUID, version: int) -> ExportLink:
        path = f"/api/v1/datasets/{dataset_id}/versions/{version}/export"
        return ExportLink.model_validate(await self._request("GET", path))

    # training

    async def resolve_config(
        self, task: str, mode: str, overrides: dict[str, Any], framework: str = "ultralytics"
    ) -> ResolvedConfig:
        body = {"framework": framework, "task": task, "mode": mode, "overrides": overrides}
        return ResolvedConfig.model_validate(await self._request("POST", "/api/v1/training/config/resolve", json=body))

    async def create_job(self, spec: JobCreate) -> Job:
        return Job.model_validate(
            await self._request("POST", "/api/v1/training/jobs", json=spec.model_dump(mode="json"))
        )

    async def list_jobs(self, **filters: Any) -> JobList:
        params = {k: v for k, v in filters.items() if v is not None}
        return JobList.model_validate(await self._request("GET", "/api/v1/training/jobs", params=params))

    async def get_job(self, job_id: UUID) -> JobDetail:
        return JobDetail.model_validate(await self._request("GET", f"/api/v1/training/jobs/{job_id}"))

    async def cancel_job(self, job_id: UUID) -> Job:
        return Job.model_validate(await self._request("POST", f"/api/v1/training/jobs/{job_id}/cancel"))

    async def job_metrics(self, job_id: UUID) -> MetricsList:
        return MetricsList.model_validate(await self._request("GET", f"/api/v1/training/jobs/{job_id}/metrics"))

    async def job_logs(self, job_id: UUID, offset: int = 0, limit: int = 500) -> LogLines:
        params = {"offset": offset, "limit": limit}
        return LogLines.model_validate(
            await self._request("GET", f"/api/v1/training/jobs/{job_id}/logs", params=params)
        )

    async def job_checkpoints(self, job_id: UUID) -> CheckpointList:
        return CheckpointList.model_validate(await self._request("GET", f"/api/v1/training/jobs/{job_id}/checkpoints"))

    async def watch_job(self, job_id: UUID) -> AsyncIterator[dict[str, Any]]:
        """The job's live status over the WebSocket: `connected`, then `training_status` until it is over."""
        url = str(self._http.base_url).rstrip("/").replace("http", "ws", 1) + f"/ws/training/{job_id}"
        headers = (
            {"Authorization": self._http.headers["Authorization"]} if "Authorization" in self._http.headers else {}
        )
        async with aiohttp.ClientSession() as session, session.ws_connect(url, headers=headers) as ws:
            async for message in ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    yield message.json()

    async def raw(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """An unchecked request, for showing what the API answers to bad input."""
        return await self._http.request(method, path, **kwargs)
