"""Auditable seeded prize draws: pure engine and verifier, services, API, CLI and pages."""
