"""Errors of the registry; the category decides the HTTP status."""

from __future__ import annotations

from uuid import UUID

from modelyard.runtime.problems import Conflict, NotFound


class ModelNotFound(NotFound):
    slug = "model-not-found"
    title = "Model version not found"

    def __init__(self, model_id: UUID) -> None:
        super().__init__(f"model version {model_id} does not exist in this organisation", model_id=str(model_id))


class ModuleNotFound(NotFound):
    slug = "module-not-found"
    title = "AI module not found"

    def __init__(self, ai_module: str) -> None:
        super().__init__(f"no model versions of module {ai_module!r} in this organisation", ai_module=ai_module)


class NotReleased(NotFound):
    slug = "not-released"
    title = "Model version has no release"

    def __init__(self, model_id: UUID) -> None:
        super().__init__(f"model version {model_id} has never been released", model_id=str(model_id))


class LifecycleConflict(Conflict):
    """The step does not apply to the version's status (release before approval, say)."""

    slug = "lifecycle-conflict"
    title = "Not allowed in this model status"


class ActiveModelsLimit(Conflict):
    """The plan's active models per module are all released. A 409, not a 429: waiting does not help, a deprecate
    of one of them does (the detail lists them), so no client should retry it."""

    slug = "active-models-limit"
    title = "Active models per module reached"
