"""The uplink's targets: one small adapter per standard protocol (HTTP JSON batches, S3 multipart, MQTT)."""
