from __future__ import annotations

import socket

from modelyard.embedded.ports import choose_port, free_port, free_port_with_grpc, is_port_free


def test_free_port_is_bindable_and_not_handed_out_twice() -> None:
    ports = {free_port() for _ in range(20)}
    assert len(ports) == 20
    assert all(is_port_free(port) for port in ports)


def test_free_port_with_grpc_leaves_port_and_port_plus_offset_free() -> None:
    port = free_port_with_grpc()
    assert 20000 <= port < 50000
    assert is_port_free(port)
    assert is_port_free(port + 10000)


def test_taken_port_is_not_free() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert not is_port_free(sock.getsockname()[1])


def test_choose_port_keeps_a_given_port_and_reuses_a_previous_free_one() -> None:
    assert choose_port(5432, None) == 5432
    previous = free_port()
    assert choose_port(None, previous) == previous
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", previous))
        sock.listen()
        assert choose_port(None, previous) != previous
