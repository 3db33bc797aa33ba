"""Footage ingest: resumable uploads, dock ingest, immutable storage, custody, retention, disk safety."""
