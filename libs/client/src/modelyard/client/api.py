"""Typed Python client of the gateway's HTTP API. Errors come back as `ApiError` carrying the ProblemDetails."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from uuid import UUID

import aiohttp
import httpx

from modelyard.contracts.api.audit import AuditList
from modelyard.contracts.api.common import Health, VersionInfo
from modelyard.contracts.api.datasets import Dataset, DatasetCreate, DatasetList, DatasetStats
from modelyard.contracts.api.devices import (
    Deployment,
    DeploymentList,
    DeploymentStatus,
    Device,
    DeviceList,
    EnrollmentToken,
)
from modelyard.contracts.api.identity import (
    AccessToken,
    ApiKey,
    ApiKeyList,
    ApiKeyWithSecret,
    OrgList,
    OrgWithAdmin,
    Permission,
    Role,
    User,
    UserWithKey,
)
from modelyard.contracts.api.models import (
    Comparison,
    Lineage,
    ModelList,
    ModelStatus,
    ModelVersion,
    ModuleList,
    RegistrySettings,
    Release,
    ReleaseDownload,
    SigningKeys,
    Transition,
)
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
from modelyard.contracts.plans import Plan


class ApiError(Exception):
    def __init__(self, problem: ProblemDetails) -> None:
        super().__init__(f"{problem.status} {problem.title}: {problem.detail or ''}".strip())
        self.problem = problem


# a deployment in one of these is over: `watch_deployment` stops there
DEPLOYMENT_FINAL = frozenset({DeploymentStatus.COMPLETED, DeploymentStatus.FAILED, DeploymentStatus.ABORTED})


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

    # organisations, keys, tokens

    async def create_org(self, name: str, plan: Plan = Plan.FREE, admin_name: str = "admin") -> OrgWithAdmin:
        body = {"name": name, "plan": plan.value, "admin_name": admin_name}
        return OrgWithAdmin.model_validate(await self._request("POST", "/api/v1/orgs", json=body))

    async def list_orgs(self) -> OrgList:
        return OrgList.model_validate(await self._request("GET", "/api/v1/orgs"))

    async def create_key(
        self, name: str, scopes: list[Permission] | None = None, expires_in_days: int | None = None
    ) -> ApiKeyWithSecret:
        body: dict[str, Any] = {"name": name}
        if scopes is not None:
            body["scopes"] = [s.value for s in scopes]
        if expires_in_days is not None:
            body["expires_in_days"] = expires_in_days
        return ApiKeyWithSecret.model_validate(await self._request("POST", "/api/v1/keys", json=body))

    async def list_keys(self) -> ApiKeyList:
        return ApiKeyList.model_validate(await self._request("GET", "/api/v1/keys"))

    async def revoke_key(self, key_id: UUID) -> ApiKey:
        return ApiKey.model_validate(await self._request("DELETE", f"/api/v1/keys/{key_id}"))

    async def access_token(self, expires_in: int = 900) -> AccessToken:
        body = {"expires_in": expires_in}
        return AccessToken.model_validate(await self._request("POST", "/api/v1/auth/token", json=body))

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

    # model registry

    async def list_models(
        self,
        ai_module: str | None = None,
        status: ModelStatus | None = None,
        job_id: UUID | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> ModelList:
        filters = {"ai_module": ai_module, "status": status.value if status else None, "job_id": job_id}
        params: dict[str, str | int] = {k: str(v) for k, v in filters.items() if v is not None}
        params |= {"limit": limit, "offset": offset}
        return ModelList.model_validate(await self._request("GET", "/api/v1/models", params=params))

    async def get_model(self, model_id: UUID) -> ModelVersion:
        return ModelVersion.model_validate(await self._request("GET", f"/api/v1/models/{model_id}"))

    async def update_model_notes(self, model_id: UUID, notes: str) -> ModelVersion:
        path = f"/api/v1/models/{model_id}"
        return ModelVersion.model_validate(await self._request("PATCH", path, json={"notes": notes}))

    async def transition_model(self, model_id: UUID, transition: Transition, reason: str) -> ModelVersion:
        """test, approve, reject or deprecate a version; every step says why."""
        path = f"/api/v1/models/{model_id}/{transition.value}"
        return ModelVersion.model_validate(await self._request("POST", path, json={"reason": reason}))

    async def release_model(
        self,
        model_id: UUID,
        reason: str,
        expires_in_days: int | None = None,
        platforms: list[str] | None = None,
        hardware: list[str] | None = None,
    ) -> Release:
        """Sign and release an approved version (the server's defaults: 365 days, platforms and hardware "any")."""
        options = {"expires_in_days": expires_in_days, "platforms": platforms or None, "hardware": hardware or None}
        body = {"reason": reason} | {k: v for k, v in options.items() if v is not None}
        path = f"/api/v1/models/{model_id}/release"
        return Release.model_validate(await self._request("POST", path, json=body))

    async def rollback_model(self, model_id: UUID, reason: str) -> Release:
        """A new release, with a higher counter, of this older version."""
        path = f"/api/v1/models/{model_id}/rollback"
        return Release.model_validate(await self._request("POST", path, json={"reason": reason}))

    async def set_default_model(self, model_id: UUID, reason: str) -> ModelVersion:
        """Make this version its module's default (the fallback `revert_module` goes back to)."""
        path = f"/api/v1/models/{model_id}/default"
        return ModelVersion.model_validate(await self._request("POST", path, json={"reason": reason}))

    async def model_lineage(self, model_id: UUID) -> Lineage:
        return Lineage.model_validate(await self._request("GET", f"/api/v1/models/{model_id}/lineage"))

    async def model_release(self, model_id: UUID) -> ReleaseDownload:
        """The latest release of this version, with short-lived download URLs of its files and signature."""
        return ReleaseDownload.model_validate(await self._request("GET", f"/api/v1/models/{model_id}/release"))

    async def compare_models(self, a: UUID, b: UUID) -> Comparison:
        params = {"a": str(a), "b": str(b)}
        return Comparison.model_validate(await self._request("GET", "/api/v1/models/compare", params=params))

    async def list_modules(self) -> ModuleList:
        return ModuleList.model_validate(await self._request("GET", "/api/v1/registry/modules"))

    async def revert_module(self, ai_module: str, reason: str) -> Release:
        """Release the module's default model again, as a new release."""
        path = f"/api/v1/registry/modules/{ai_module}/revert"
        return Release.model_validate(await self._request("POST", path, json={"reason": reason}))

    async def signing_keys(self) -> SigningKeys:
        return SigningKeys.model_validate(await self._request("GET", "/api/v1/registry/keys"))

    async def registry_settings(self) -> RegistrySettings:
        return RegistrySettings.model_validate(await self._request("GET", "/api/v1/registry/settings"))

    async def put_registry_settings(self, four_eyes: bool) -> RegistrySettings:
        body = {"four_eyes": four_eyes}
        return RegistrySettings.model_validate(await self._request("PUT", "/api/v1/registry/settings", json=body))

    async def download_release(
        self, model_id: UUID, directory: Path, *, release: ReleaseDownload | None = None
    ) -> Path:
        """Download the latest release of a version: its files into `directory` (created if missing), each checked
        against the release's sha256, and its signature beside it as `<directory>.sig`, outside the directory
        because the signed directory must hold exactly the release's files. Returns the signature's path.

        `release`: the answer of `model_release(model_id)` if the caller already has it (its URLs are short-lived).
        The URLs are presigned S3 URLs: they are fetched without this client's Authorization header.
        Raises ValueError when a file is missing, misnamed or does not match its sha256."""
        if release is None:
            release = await self.model_release(model_id)
        directory = await asyncio.to_thread(directory.resolve)
        signature = directory.with_name(directory.name + ".sig")
        expected = {file.name: file for file in release.files}
        for name in release.urls.keys() | expected.keys():
            if name in {"", ".", ".."} or Path(name).name != name or "\\" in name:
                raise ValueError(f"release {release.counter} names an unsafe file {name!r}")
        missing = sorted(expected.keys() - release.urls.keys())
        if missing:
            raise ValueError(f"release {release.counter} has no download URL for {', '.join(missing)}")
        await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
        async with httpx.AsyncClient(timeout=self._http.timeout, follow_redirects=True) as s3:
            for name, url in sorted(release.urls.items()):
                digest, size = await _download(s3, self._http.base_url.join(url), directory / name)
                file = expected.get(name)
                if file is not None and (digest != file.sha256 or size != file.size):
                    (directory / name).unlink(missing_ok=True)
                    raise ValueError(
                        f"{name}: downloaded {size} bytes with sha256 {digest}, "
                        f"the release lists {file.size} bytes with sha256 {file.sha256}"
                    )
            await _download(s3, self._http.base_url.join(release.signature_url), signature)
        return signature

    # edge devices and deployments

    async def create_enrollment_token(
        self, labels: dict[str, str] | None = None, expires_in_hours: int | None = None
    ) -> EnrollmentToken:
        """A one-time token one device enrolls with; the device gets `labels` (the server's default: 24 hours)."""
        options: dict[str, Any] = {"labels": labels, "expires_in_hours": expires_in_hours}
        body = {k: v for k, v in options.items() if v is not None}
        path = "/api/v1/devices/enrollment-tokens"
        return EnrollmentToken.model_validate(await self._request("POST", path, json=body))

    async def list_devices(self, label: str | None = None, limit: int = 50, offset: int = 0) -> DeviceList:
        """The organisation's devices by name; `label`: only those with this `key=value` label."""
        params: dict[str, str | int] = {"limit": limit, "offset": offset} | ({"label": label} if label else {})
        return DeviceList.model_validate(await self._request("GET", "/api/v1/devices", params=params))

    async def get_device(self, device_id: UUID) -> Device:
        return Device.model_validate(await self._request("GET", f"/api/v1/devices/{device_id}"))

    async def create_deployment(
        self,
        model_id: UUID,
        *,
        device: UUID | None = None,
        labels: dict[str, str] | None = None,
        all_devices: bool = False,
        canary: int | None = None,
        canary_percent: float | None = None,
        wave_size: int | None = None,
        failure_threshold: int | None = None,
    ) -> Deployment:
        """Deploy a released version to one device, the devices with all of `labels`, or every device, in waves:
        the canary (`canary` devices or `canary_percent` of them) first, then `wave_size` at a time. Only the options
        given are sent (the server's defaults: no canary, one wave, no failure tolerated).
        Raises ValueError unless exactly one of device, labels and all_devices is given."""
        targets = [device is not None, labels is not None, all_devices]
        if sum(targets) != 1:
            raise ValueError("give exactly one of device, labels or all_devices")
        target: dict[str, Any] = (
            {"device": str(device)}
            if device is not None
            else {"labels": labels}
            if labels is not None
            else {"all": True}
        )
        options: dict[str, Any] = {
            "canary": canary,
            "canary_percent": canary_percent,
            "wave_size": wave_size,
            "failure_threshold": failure_threshold,
        }
        body = {"model_id": str(model_id), "target": target} | {k: v for k, v in options.items() if v is not None}
        return Deployment.model_validate(await self._request("POST", "/api/v1/deployments", json=body))

    async def get_deployment(self, deployment_id: UUID) -> Deployment:
        return Deployment.model_validate(await self._request("GET", f"/api/v1/deployments/{deployment_id}"))

    async def list_deployments(
        self,
        model_id: UUID | None = None,
        status: DeploymentStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> DeploymentList:
        filters = {"model_id": model_id, "status": status.value if status else None}
        params: dict[str, str | int] = {k: str(v) for k, v in filters.items() if v is not None}
        params |= {"limit": limit, "offset": offset}
        return DeploymentList.model_validate(await self._request("GET", "/api/v1/deployments", params=params))

    async def pause_deployment(self, deployment_id: UUID) -> Deployment:
        """Send no further waves; devices already sent their wave go on."""
        path = f"/api/v1/deployments/{deployment_id}/pause"
        return Deployment.model_validate(await self._request("POST", path))

    async def resume_deployment(self, deployment_id: UUID) -> Deployment:
        path = f"/api/v1/deployments/{deployment_id}/resume"
        return Deployment.model_validate(await self._request("POST", path))

    async def watch_deployment(
        self, deployment_id: UUID, interval_s: float = 0.5, timeout_s: float | None = None
    ) -> AsyncIterator[Deployment]:
        """Poll the deployment every `interval_s`: yield it first, then whenever it changes, until it is completed,
        failed or aborted (that last state yielded too). Raises TimeoutError once `timeout_s` passes first."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        last: Deployment | None = None
        while True:
            deployment = await self.get_deployment(deployment_id)
            if deployment != last:
                last = deployment
                yield deployment
            if deployment.status in DEPLOYMENT_FINAL:
                return
            if deadline is not None and loop.time() >= deadline:
                raise TimeoutError(f"deployment {deployment_id} still {deployment.status.value} after {timeout_s}s")
            wait = interval_s if deadline is None else min(interval_s, max(0.0, deadline - loop.time()))
            await asyncio.sleep(wait)

    # audit

    async def list_audit(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        resource_type: str | None = None,
        resource_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> AuditList:
        """The org's audit trail, newest first (admins only). `action` is exact or a prefix ending in `*`."""
        filters = {"actor": actor, "action": action, "resource_type": resource_type, "resource_id": resource_id}
        params: dict[str, str | int] = {k: v for k, v in filters.items() if v is not None}
        params |= {k: v.isoformat() for k, v in (("since", since), ("until", until)) if v is not None}
        params |= {"limit": limit, "offset": offset}
        return AuditList.model_validate(await self._request("GET", "/api/v1/audit", params=params))

    async def raw(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """An unchecked request, for showing what the API answers to bad input."""
        return await self._http.request(method, path, **kwargs)


async def _download(http: httpx.AsyncClient, url: httpx.URL, target: Path) -> tuple[str, int]:
    """Stream `url` into `target` (through a temporary file beside it); returns its sha256 and size."""
    part = target.with_name(f".{target.name}.part")
    digest, size = hashlib.sha256(), 0
    try:
        async with http.stream("GET", url) as response:
            response.raise_for_status()
            fh = await asyncio.to_thread(part.open, "wb")
            with fh:
                async for chunk in response.aiter_bytes(1 << 20):
                    fh.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        part.replace(target)
    finally:
        part.unlink(missing_ok=True)
    return digest.hexdigest(), size
