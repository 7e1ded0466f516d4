"""Staff users, roles, password login and sessions."""
