"""Data preparation for landemu: static fine-grid fields and forcing files (offline tools)."""
