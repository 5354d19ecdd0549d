"""Pick free loopback ports, and retry a start on fresh ports when another process won a bind race."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Callable

from modelyard.embedded.process import ServerStartError

GRPC_OFFSET = 10000
_RANGE_LOW, _RANGE_HIGH = 20000, 50000
_HOLD_S = 60.0  # a port handed out is not handed out again for this long, within this process

_lock = threading.Lock()
_handed_out: dict[int, float] = {}


def is_port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if a server could listen on `port` now (SO_REUSEADDR, as servers bind: TIME_WAIT is no obstacle)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _claim(*ports: int, force: bool = False) -> bool:
    """Reserve ports not handed out recently; False if one of them was (unless `force`)."""
    now = time.monotonic()
    with _lock:
        for port, since in list(_handed_out.items()):
            if now - since > _HOLD_S:
                del _handed_out[port]
        if not force and any(port in _handed_out for port in ports):
            return False
        for port in ports:
            _handed_out[port] = now
        return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free on `host` now (the kernel's choice) and not handed out recently."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(100):
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if _claim(port):
            return port
    raise RuntimeError(f"no free port found on {host}")


def free_port_with_grpc(host: str = "127.0.0.1", offset: int = GRPC_OFFSET) -> int:
    """A port p such that p and p + offset are both free (SeaweedFS puts gRPC on HTTP port + 10000)."""
    high = min(_RANGE_HIGH, 65535 - offset)
    for _ in range(500):
        port = random.randrange(_RANGE_LOW, high)
        if is_port_free(port, host) and is_port_free(port + offset, host) and _claim(port, port + offset):
            return port
    raise RuntimeError(f"no free port pair (p, p+{offset}) found on {host}")


def choose_port(
    fixed: int | None, previous: int | None, host: str = "127.0.0.1", grpc_offset: int | None = None
) -> int:
    """The port to start on: the caller's fixed port, else the last random one if still free, else a new one."""
    if fixed is not None:
        return fixed
    if (
        previous is not None
        and is_port_free(previous, host)
        and (grpc_offset is None or is_port_free(previous + grpc_offset, host))
    ):
        _claim(previous, *([previous + grpc_offset] if grpc_offset is not None else []), force=True)
        return previous
    if grpc_offset is None:
        return free_port(host)
    return free_port_with_grpc(host, grpc_offset)


def retry_on_port_clash(start_once: Callable[[], None], *, random_ports: bool, attempts: int = 3) -> None:
    """Call `start_once`; if it failed because a randomly chosen port was taken meanwhile, try again.

    `start_once` must pick its random ports itself, so each attempt gets new ones.
    """
    for attempt in range(1, attempts + 1):
        try:
            start_once()
        except ServerStartError as exc:
            if random_ports and exc.port_clash and attempt < attempts:
                continue
            raise
        return
