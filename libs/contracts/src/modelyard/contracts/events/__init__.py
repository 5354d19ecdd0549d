"""Every event Modelyard publishes. Importing this package registers them all for `envelope.decode`."""

from modelyard.contracts.events.dataset import DatasetCreated
from modelyard.contracts.events.identity import UserCreated

__all__ = ["DatasetCreated", "UserCreated"]
