"""Typed Python client of the gateway's HTTP API. Errors come back as `ApiError` carrying the ProblemDetails."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self
from uuid import UUID

import httpx

from modelyard.contracts.api.common import Health, VersionInfo
from modelyard.contracts.api.datasets import Dataset, DatasetCreate
from modelyard.contracts.api.identity import Role, User, UserWithKey
from modelyard.contracts.api.problems import ProblemDetails


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

    async def raw(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """An unchecked request, for showing what the API answers to bad input."""
        return await self._http.request(method, path, **kwargs)
