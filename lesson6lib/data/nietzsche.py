"""The Nietzsche text the lesson's character models learn from.

600,893 characters: Helen Zimmern's translation of *Beyond Good and Evil*, then the preface and
aphorisms 1 to 144 of *Human, All Too Human* (Project Gutenberg #4363 and #38145; public domain in
the USA). The file is the one Keras and fast.ai download. Folder under ``$LESSON6_DATA``:
``nietzsche/``.
"""

from __future__ import annotations

from lesson6lib.data.files import DataFile
from lesson6lib.data.tables import read_text

__all__ = ["CHARACTERS", "DATA_FILE", "load_text"]

CHARACTERS = 600_893
"""The length of the text; :func:`load_text` checks it."""
DATA_FILE = DataFile(
    dataset="nietzsche",
    names=("nietzsche.txt",),
    url="https://s3.amazonaws.com/text-datasets/nietzsche.txt",
    sha256={"nietzsche.txt": ("23cf69874ab69d3d256099ab530ea4be24d47d9675b673bcc67cbcd6298ec647",)},
)
"""Where ``nietzsche.txt`` is looked for and downloaded from, and its sha256."""


def load_text() -> str:
    """The whole text as one string (LF line endings, 84 distinct characters)."""
    return read_text(DATA_FILE, chars=CHARACTERS)
