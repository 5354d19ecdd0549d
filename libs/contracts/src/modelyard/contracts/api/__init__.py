"""Request and response models the gateway shares with the services."""
