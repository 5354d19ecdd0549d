import uuid

from modelyard.contracts.api.datasets import DatasetCreate, DatasetStatus, Task
from modelyard.contracts.api.identity import Principal, Role
from modelyard.dataset.domain import created_event, new_dataset

ENGINEER = Principal(org_id=uuid.uuid4(), user_id=uuid.uuid4(), role=Role.ML_ENGINEER)


def test_new_dataset_is_an_empty_draft_of_the_callers_org() -> None:
    dataset = new_dataset(ENGINEER, DatasetCreate(name="cars", task=Task.DETECT, class_names=["car", "bus", "car"]))
    assert dataset.status is DatasetStatus.DRAFT
    assert dataset.org_id == ENGINEER.org_id and dataset.created_by == ENGINEER.actor
    assert dataset.class_names == ["car", "bus"]
    assert dataset.sample_count == dataset.labeled_count == dataset.verified_count == 0


def test_created_event_describes_the_dataset() -> None:
    dataset = new_dataset(ENGINEER, DatasetCreate(name="cars", task=Task.DETECT))
    event = created_event(dataset, "corr")
    assert (event.dataset_id, event.org_id, event.correlation_id) == (dataset.id, dataset.org_id, "corr")
