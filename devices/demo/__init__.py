"""``station-edge demo``: a whole station on one machine, composed from outside the shipped ``edge`` package
(the daemon, a private broker and the simulators under devices/simulators)."""
