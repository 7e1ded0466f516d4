"""Administration pages: users, API clients."""
