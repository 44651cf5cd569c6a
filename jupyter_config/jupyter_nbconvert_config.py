"""nbconvert settings for the site's build.

hooks/build.py puts this folder first on JUPYTER_CONFIG_PATH, so these settings hold whatever
JUPYTER_CONFIG_DIR the user has; only the same setting in the user's own Jupyter config wins.

The time limit per cell is $LESSON6_CELL_TIMEOUT seconds, 180 when unset (hooks/build.py refuses
any value but a whole number above 0 before a page runs; here such a value falls back to 180).
"""

import os

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

_raw = os.environ.get("LESSON6_CELL_TIMEOUT", "").strip()
_seconds = int(_raw) if _raw.isdigit() and int(_raw) > 0 else 180
# mkdocs-jupyter runs cells with nbconvert's ExecutePreprocessor, a NotebookClient: set both, so
# a NotebookClient.timeout in another config file does not undo the more specific setting here.
c.NotebookClient.timeout = _seconds
c.ExecutePreprocessor.timeout = _seconds
