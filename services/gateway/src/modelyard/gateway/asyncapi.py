"""The AsyncAPI document of the events, as the gateway serves it: the very document `make contracts` writes to
proto/asyncapi.json (rendered by the same code, `contracts.generate.render`), made self-contained.

proto/ is not part of an installed gateway (its image holds only its own packages), so rendering beats reading a
file. In proto/ each message payload is a `$ref` to a file beside it (`events/X.v1.schema.json`); a URL has no files
beside it, so each of those schemas moves into `components.schemas` and the `$ref` points there.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from modelyard.contracts.generate import render

DOCUMENT = "asyncapi.json"
_EVENTS_PREFIX = "events/"


@cache
def document() -> dict[str, Any]:
    files = render()
    doc: dict[str, Any] = json.loads(files[DOCUMENT])
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
    for message in doc["components"].get("messages", {}).values():
        ref = message.get("payload", {}).get("$ref", "")
        if ref.startswith(_EVENTS_PREFIX) and ref in files:
            payload = json.loads(files[ref])
            payload.pop("$comment", None)
            name = ref.removeprefix(_EVENTS_PREFIX).removesuffix(".schema.json").replace(".", "_")
            schemas[name] = _local_defs(payload, name)
            message["payload"] = {"$ref": f"#/components/schemas/{name}"}
    return doc


def _local_defs(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """An event schema's own `$defs` refer to `#/$defs/...` of that file; moved under components they resolve from
    the schema itself, so they stay where they are and their refs are rewritten to the schema's new place."""
    if "$defs" not in schema:
        return schema
    text = json.dumps(schema).replace('"#/$defs/', f'"#/components/schemas/{name}/$defs/')
    rewritten: dict[str, Any] = json.loads(text)
    return rewritten
