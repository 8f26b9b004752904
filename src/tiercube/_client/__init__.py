"""The client: one module per capability group, assembled into tiers by ``tiercube._client.sessions``."""
