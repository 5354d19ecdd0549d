"""`/api/docs`: the OpenAPI document as one readable HTML page, rendered on the server.

Self-contained on purpose: the machines this runs on often reach no CDN, so there is no Swagger UI, no script and
no font to fetch. Operations are grouped by tag, each with its parameters, body, answers and links; schemas follow,
and every `$ref` is a link to its schema.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em 2em;color:#1d1f21}
h1{margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
details{border:1px solid #ddd;border-radius:6px;margin:.4em 0;padding:.3em .8em}
summary{cursor:pointer} code,pre{font:13px/1.4 ui-monospace,monospace}
pre{background:#f6f8fa;padding:.6em;overflow:auto;border-radius:4px}
table{border-collapse:collapse;margin:.4em 0} td,th{border:1px solid #ddd;padding:.2em .6em;text-align:left}
.m{display:inline-block;min-width:4.5em;font-weight:700;font-family:ui-monospace,monospace}
.get{color:#0a7d35}.post{color:#0b5cad}.put{color:#8a5a00}.patch{color:#8a5a00}.delete{color:#b3261e}
.public{font-size:12px;background:#eef6ee;border-radius:3px;padding:0 .4em;margin-left:.5em}
"""


def render(doc: dict[str, Any], *, openapi_url: str, asyncapi_url: str) -> str:
    info = doc.get("info", {})
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, methods in doc.get("paths", {}).items():
        for method, op in methods.items():
            by_tag.setdefault((op.get("tags") or ["other"])[0], []).append((method, path, op))
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(info.get('title', 'API'))}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(info.get('title', 'API'))} <small>{escape(str(info.get('version', '')))}</small></h1>",
        f"<p>{escape(info.get('description', ''))}</p>",
        f"<p>Machine-readable: <a href='{escape(openapi_url)}'>OpenAPI 3.1</a> · "
        f"<a href='{escape(asyncapi_url)}'>AsyncAPI (events)</a></p>",
        "<p>Contents: " + " · ".join(f"<a href='#tag-{escape(t)}'>{escape(t)}</a>" for t in by_tag),
        " · <a href='#schemas'>schemas</a></p>",
    ]
    for tag, operations in by_tag.items():
        parts.append(f"<h2 id='tag-{escape(tag)}'>{escape(tag)}</h2>")
        parts.extend(_operation(method, path, op) for method, path, op in operations)
    parts.append("<h2 id='schemas'>Schemas</h2>")
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        parts.append(
            f"<details id='schema-{escape(name)}'><summary><code>{escape(name)}</code></summary>{_json(schema)}"
            "</details>"
        )
    parts.append("</body></html>")
    return "".join(parts)


def _operation(method: str, path: str, op: dict[str, Any]) -> str:
    public = "<span class='public'>no API key</span>" if op.get("security") == [] else ""
    out = [
        f"<details id='op-{escape(op.get('operationId', ''))}'><summary><span class='m {escape(method)}'>"
        f"{escape(method.upper())}</span> <code>{escape(path)}</code> — {escape(op.get('summary', ''))}{public}"
        "</summary>"
    ]
    if op.get("description"):
        out.append(f"<p>{escape(op['description'])}</p>")
    if op.get("parameters"):
        out.append("<table><tr><th>parameter</th><th>in</th><th>required</th><th>schema</th><th></th></tr>")
        for p in op["parameters"]:
            out.append(
                f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
                f"<td>{'yes' if p.get('required') else ''}</td><td>{_inline(p.get('schema', {}))}</td>"
                f"<td>{escape(p.get('description', ''))}</td></tr>"
            )
        out.append("</table>")
    body = op.get("requestBody")
    if body:
        for content_type, media in body.get("content", {}).items():
            required = "required" if body.get("required") else "optional"
            out.append(f"<p><b>Body</b> ({required}) <code>{escape(content_type)}</code>:</p>")
            out.append(_json(media.get("schema", {})))
    out.append("<table><tr><th>status</th><th>answer</th><th>body</th><th>then</th></tr>")
    for status, answer in op.get("responses", {}).items():
        text, body_html = _answer(answer)
        links = ", ".join(
            f"<a href='#op-{escape(link['operationId'])}'>{escape(link['operationId'])}</a>"
            for link in answer.get("links", {}).values()
        )
        out.append(f"<tr><td>{escape(status)}</td><td>{escape(text)}</td><td>{body_html}</td><td>{links}</td></tr>")
    out.append("</table></details>")
    return "".join(out)


def _answer(answer: dict[str, Any]) -> tuple[str, str]:
    ref = answer.get("$ref")
    if isinstance(ref, str):  # one of the shared problem responses
        return ref.rsplit("/", 1)[1], _inline({"$ref": "#/components/schemas/ProblemDetails"})
    content = answer.get("content", {})
    rendered = " ".join(
        f"<code>{escape(ct)}</code> {_inline(media.get('schema', {}))}" for ct, media in content.items()
    )
    return answer.get("description", ""), rendered


def _inline(schema: dict[str, Any]) -> str:
    """A short form for tables: a link for a `$ref`, else the compact JSON."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and len(schema) == 1:
        name = ref.rsplit("/", 1)[1]
        return f"<a href='#schema-{escape(name)}'><code>{escape(name)}</code></a>"
    return f"<code>{escape(json.dumps(schema, separators=(',', ':')))}</code>"


def _json(schema: Any) -> str:
    """Pretty JSON with every `$ref` to a component schema turned into a link to it."""
    text = escape(json.dumps(schema, indent=2))
    marker = escape('"#/components/schemas/')
    out, rest = [], text
    while marker in rest:
        before, _, after = rest.partition(marker)
        name, quote, tail = after.partition(escape('"'))
        out.append(f"{before}<a href='#schema-{name}'>{marker}{name}{quote}</a>")
        rest = tail
    out.append(rest)
    return "<pre>" + "".join(out) + "</pre>"
