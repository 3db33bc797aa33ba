"""The uplink's targets: small adapters over standard protocols (docs/uplink.md)."""
