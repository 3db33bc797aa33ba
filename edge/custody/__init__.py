"""Custody integrity beyond the database: signed checkpoints, the station key, offline bundles.

The log itself (append, guards, SQL) lives in edge/store/custody.py; the pure chain walk here is used
over database rows and over an exported bundle alike. See docs/custody.md.
"""
