"""Readiness probes over plain sockets and HTTP (no proxies, short timeouts)."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Mapping


def tcp_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_get(
    host: str, port: int, path: str = "/", *, headers: Mapping[str, str] | None = None, timeout: float = 1.0
) -> tuple[int, bytes] | None:
    """Status and body of GET http://host:port/path, or None if nothing answered."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=dict(headers or {}))
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def http_status(
    host: str, port: int, path: str = "/", *, headers: Mapping[str, str] | None = None, timeout: float = 1.0
) -> int | None:
    """The status code of GET http://host:port/path, or None if nothing answered."""
    answer = http_get(host, port, path, headers=headers, timeout=timeout)
    return answer[0] if answer is not None else None
