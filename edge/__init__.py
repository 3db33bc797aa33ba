"""station-edge: the police-station edge gateway daemon."""

__version__ = "0.1.0"
