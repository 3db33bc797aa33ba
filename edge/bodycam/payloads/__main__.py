"""``python -m edge.bodycam.payloads [DIR]``: regenerate the JSON Schemas (default docs/schemas)."""

import sys
from pathlib import Path

from edge.bodycam.payloads.schemas import write_schemas

for _path in write_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")):
    print(_path)
