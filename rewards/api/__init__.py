"""API blueprints of the service core."""
