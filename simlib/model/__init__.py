"""The model: customers, fee standards and behaviour, and the compiled monthly engine.

Everything here follows docs/model.md section by section: :mod:`.draws` (§8), :mod:`.population`
(§2), :mod:`.fees` and :mod:`.schedule` (§3.3–3.4), :mod:`.behaviour` and :mod:`.operations`
(§3.5–3.13), and :mod:`.engine`, the month-by-month loop over named steps. The functions the engine
calls per customer are compiled with Numba (nopython, cached on disk).
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def _forget_stale_compilations() -> None:
    """Remove the on-disk compiled code when any source file of this package has changed.

    Numba checks a cached function only against its own file, but the engine's cached code also
    holds every function it calls from the other files here; an edit to one of them would
    otherwise run the old code. Only the in-tree cache (``__pycache__``, a source checkout) is
    checked: an installed package's sources do not change.
    """
    here = Path(__file__).parent
    cache = here / "__pycache__"
    stamp = hashlib.sha256()
    for source in sorted(here.glob("*.py")):
        status = source.stat()
        stamp.update(f"{source.name}:{status.st_size}:{status.st_mtime_ns};".encode())
    recorded = cache / "simlib-sources.sha256"
    try:
        if recorded.read_text() == stamp.hexdigest():
            return
    except OSError:
        pass
    try:
        for stale in (*cache.glob("*.nbi"), *cache.glob("*.nbc")):
            stale.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        recorded.write_text(stamp.hexdigest())
    except OSError:
        pass  # a read-only install: nothing of ours to forget


_forget_stale_compilations()
