"""Ed25519 signing keys kept as files under the instance folder."""
