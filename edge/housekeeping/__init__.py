"""Bounded storage: retention of the store's growing tables, vacuum and WAL checkpoints, store metrics."""
