"""Hostile and broken servers, and the battery proving the suite stays bounded and safe against them."""
