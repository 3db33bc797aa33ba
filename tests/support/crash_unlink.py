"""``station-edge run`` that dies by SIGKILL right before or right after it unlinks a stored footage file.

Fault injection at the operating-system boundary (``os.unlink``, which ``Path.unlink`` calls), not a change
to the daemon: everything else is the real code. ``CRASH_AROUND_UNLINK`` is ``before`` or ``after``.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

_real_unlink = os.unlink


def _stored_footage(path: Any) -> bool:
    return f"{os.sep}footage{os.sep}files{os.sep}" in os.fsdecode(os.fspath(path))


def _unlink(path: Any, *args: Any, **kwargs: Any) -> None:
    hit = _stored_footage(path)
    if hit and os.environ["CRASH_AROUND_UNLINK"] == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    _real_unlink(path, *args, **kwargs)
    if hit and os.environ["CRASH_AROUND_UNLINK"] == "after":
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    os.unlink = _unlink
    from edge.cli import main

    sys.exit(main(sys.argv[1:]))
