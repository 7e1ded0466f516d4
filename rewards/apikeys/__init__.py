"""API clients (machines) and their keys, with scopes."""
