"""What the files a run writes share: an error that names the file."""

from __future__ import annotations

import contextlib
import os


@contextlib.contextmanager
def naming(path: str | os.PathLike):
    """An :class:`OSError` raised inside that names no file (``write`` on a full disk:
    ``[Errno 28] No space left on device``) names ``path``: the user learns which file of
    the run could not be written, and where."""
    try:
        yield
    except OSError as e:
        if e.filename is None and e.errno is not None and e.strerror is not None:
            e.filename = str(path)
        raise
