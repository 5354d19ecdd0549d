"""Datasets: list with filters and pages, change, archive, roles."""

from __future__ import annotations

import pytest

from modelyard.client.api import ApiError
from modelyard.contracts.api.datasets import DatasetCreate, Environment, Task
from modelyard.contracts.api.identity import Role

from .conftest import Platform


async def test_list_filters_and_pages(platform: Platform) -> None:
    async with platform.client() as api:
        for i in range(5):
            await api.create_dataset(DatasetCreate(name=f"det-{i}", task=Task.DETECT, ai_module="traffic"))
        await api.create_dataset(
            DatasetCreate(name="frames", task=Task.REGRESS, ai_module="studio", environment=Environment.PRODUCTION)
        )
        page = await api.list_datasets(task="detect", limit=2, offset=0)
        assert page.total == 5 and len(page.datasets) == 2
        rest = await api.list_datasets(task="detect", limit=10, offset=2)
        assert len(rest.datasets) == 3
        assert {d.id for d in page.datasets}.isdisjoint({d.id for d in rest.datasets})
        assert (await api.list_datasets(ai_module="studio")).total == 1
        assert (await api.list_datasets(environment="production")).datasets[0].name == "frames"
    async with platform.http.get(f"{platform.url}/api/v1/datasets?limit=0", headers=platform.auth()) as r:
        assert r.status == 422 and (await r.json())["errors"][0]["field"] == "limit"
    async with platform.http.get(f"{platform.url}/api/v1/datasets?task=juggle", headers=platform.auth()) as r:
        assert r.status == 422 and (await r.json())["errors"][0]["field"] == "task"


async def test_patch_changes_only_given_fields_and_class_names_only_grow(platform: Platform) -> None:
    async with platform.client() as api:
        dataset = await api.create_dataset(DatasetCreate(name="cams", task=Task.DETECT, class_names=["car"]))
        changed = await api.update_dataset(dataset.id, description="north gate", class_names=["car", "bus"])
        assert changed.description == "north gate" and changed.class_names == ["car", "bus"]
        assert changed.name == "cams"
        with pytest.raises(ApiError) as shrunk:
            await api.update_dataset(dataset.id, class_names=["bus"])
        assert shrunk.value.problem.status == 422
        assert shrunk.value.problem.errors and shrunk.value.problem.errors[0].field == "class_names"


async def test_archived_dataset_is_read_only_and_listed_as_archived(platform: Platform) -> None:
    async with platform.client() as api:
        dataset = await api.create_dataset(DatasetCreate(name="old", task=Task.CLASSIFY))
    async with platform.http.post(f"{platform.url}/api/v1/datasets/{dataset.id}/archive", headers=platform.auth()) as r:
        assert r.status == 200 and (await r.json())["status"] == "archived"
    async with platform.client() as api:
        assert (await api.list_datasets(status="archived")).total == 1
        with pytest.raises(ApiError) as refused:
            await api.update_dataset(dataset.id, description="x")
        assert refused.value.problem.status == 409
        # the name is free again once archived
        await api.create_dataset(DatasetCreate(name="old", task=Task.CLASSIFY))


async def test_viewer_reads_but_cannot_create(platform: Platform) -> None:
    viewer = await platform.user_key(Role.VIEWER)
    async with platform.client(viewer) as api:
        assert (await api.list_datasets()).total == 0
        with pytest.raises(ApiError) as refused:
            await api.create_dataset(DatasetCreate(name="x", task=Task.DETECT))
        assert refused.value.problem.status == 403
