"""The uplink to the central platform: priority classes, a byte budget with time windows, and (planned)
the drain, its targets and receipts. See docs/uplink.md for what exists and what is planned."""
