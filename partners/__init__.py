"""Partner offers and discount codes."""
