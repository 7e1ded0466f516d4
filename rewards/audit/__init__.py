"""The tamper-evident event log: hash-chained events and signed checkpoints."""
