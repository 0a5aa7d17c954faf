"""Compiled kernels: the engine's per-path inner loops, compiled with numba.

Each kernel runs one path (or one column) at a time through the same floating-point steps, in
the same order, as the array code it replaced, so results are bit-identical to it and do not
depend on which other paths share the batch.

Loading: ``import cib_sim`` and ``cib-sim validate`` never load numba. The modules here import
it at their top, and the engine imports them inside the functions that use them, on the first
run. Compiled code is cached on disk (``cache=True``: ``__pycache__`` beside these files, or
numba's user cache directory when that is read-only), so only the first run after installing
pays for compilation (see README's benchmark figures). ``NUMBA_DISABLE_JIT=1`` runs the same
functions as plain Python, for debugging.
"""

from __future__ import annotations

JIT_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy"}
"""Options of every kernel: cached on disk; releases the GIL (threads may run kernels side by
side); division by zero gives inf/NaN as numpy does, not an exception."""
