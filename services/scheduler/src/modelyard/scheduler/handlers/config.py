"""Presets and the resolver over request/reply."""

from __future__ import annotations

from faststream.nats import NatsBroker

from modelyard.contracts import subjects
from modelyard.contracts.api.identity import Principal
from modelyard.contracts.api.problems import FieldError
from modelyard.contracts.api.training import ConfigMode, ConfigQuery, ConfigResolve, ResolvedConfig
from modelyard.runtime.rpc import responder
from modelyard.scheduler import presets
from modelyard.scheduler.errors import ConfigRejected
from modelyard.scheduler.settings import QUEUE


def to_contract(resolved: presets.ResolvedConfig) -> ResolvedConfig:
    return ResolvedConfig(
        framework=resolved.framework,
        task=resolved.task,
        mode=resolved.mode.value,  # type: ignore[arg-type]
        values=resolved.values,
        resolved_yaml=resolved.resolved_yaml,
        cli_preview=resolved.cli_preview,
    )


def resolve(spec: ConfigResolve) -> presets.ResolvedConfig:
    try:
        return presets.resolve(spec.framework, spec.task, spec.mode.value, spec.overrides)
    except presets.ConfigInvalid as exc:
        raise ConfigRejected(
            [FieldError(field=p.field, message=p.message, code=p.code) for p in exc.problems]
        ) from None


def register(broker: NatsBroker) -> None:
    @responder(broker, subjects.SVC_CONFIG_DEFAULT, ConfigQuery, queue=QUEUE)
    async def default(principal: Principal, query: ConfigQuery, correlation_id: str) -> ResolvedConfig:
        return to_contract(
            resolve(ConfigResolve(framework=query.framework, task=query.task, mode=ConfigMode.DEVELOPER))
        )

    @responder(broker, subjects.SVC_CONFIG_RESOLVE, ConfigResolve, queue=QUEUE)
    async def resolve_(principal: Principal, spec: ConfigResolve, correlation_id: str) -> ResolvedConfig:
        return to_contract(resolve(spec))
