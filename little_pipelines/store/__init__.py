"""Results on disk: the cache, its entries, and owner-only files."""
