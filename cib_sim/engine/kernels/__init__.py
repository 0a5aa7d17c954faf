"""Compiled kernels: the engine's per-path inner loops, compiled with numba.

Each kernel runs one path (or one column) at a time through the same floating-point steps, in
the same order, as the array code it replaced, so results are bit-identical to it and do not
depend on which other paths share the batch.

A kernel is written once, as a plain Python function over arrays and scalars, and wrapped by
:func:`kernel`; it may call other kernels (compiled, it calls their compiled versions; as plain
Python, their plain ones).

Loading: the modules here do not import numba; a kernel is compiled the first time a batch of
:data:`SMALL_BATCH` paths or more runs it, so ``import cib_sim``, ``cib-sim validate`` (whose
headline figures run the engine on one path) and other runs of a few paths never load the
compiler: smaller batches run the same function as plain Python. Compiled code is cached on disk
(``cache=True``: ``__pycache__`` beside these files, or numba's user cache folder when that is
read-only; with neither writable, each process compiles for itself), so only the first run after
installing pays for compilation (see README's benchmark figures). Tests check that compiled and
plain Python agree bit for bit.
``NUMBA_DISABLE_JIT=1`` runs every batch as plain Python, for debugging.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any

import numpy as np

SMALL_BATCH = 64
"""Batches of fewer paths run a kernel as plain Python (fast enough, and no compiler to load)."""

JIT_OPTIONS = {"cache": True, "nogil": True, "error_model": "numpy"}
"""Options of every kernel: cached on disk; releases the GIL (threads may run kernels side by
side); division by zero gives inf/NaN as numpy does, not an exception."""


class Kernel:
    """A plain Python function over arrays, compiled on first use (see the module docstring).

    ``kernel(*args)`` runs it compiled; ``kernel.for_paths(n)(*args)`` runs it compiled for
    ``n >= SMALL_BATCH`` paths and as plain Python below; ``kernel.py_func`` is the function.
    """

    def __init__(self, fn: Callable[..., Any], inline: bool = False):
        self.py_func = fn
        # Inlined into the kernels that call it (numba's ``inline="always"``): see :func:`kernel`.
        self.options = dict(JIT_OPTIONS, inline="always") if inline else JIT_OPTIONS
        self._compiled: Callable[..., Any] | None = None
        self._plain: Callable[..., Any] | None = None
        functools.update_wrapper(self, fn)

    @property
    def compiled(self) -> Callable[..., Any]:
        if self._compiled is None:
            from numba import njit  # here, not at import: see the module docstring

            fn = _calling(self.py_func, lambda k: k.compiled)
            try:
                self._compiled = njit(**self.options)(fn)
            except RuntimeError:  # no writable cache folder (a read-only install, no home): compile each start
                self._compiled = njit(**dict(self.options, cache=False))(fn)
        return self._compiled

    def __call__(self, *args: Any) -> Any:
        return self.compiled(*args)

    def plain(self, *args: Any) -> Any:
        """Run as plain Python; numpy scalars divide by zero as compiled code does, silently."""
        with np.errstate(all="ignore"):
            return self._plain_function()(*args)

    def _plain_function(self) -> Callable[..., Any]:
        if self._plain is None:
            self._plain = _calling(self.py_func, lambda k: k._plain_function())
        return self._plain

    def for_paths(self, n_paths: int) -> Callable[..., Any]:
        return self.plain if n_paths < SMALL_BATCH else self.compiled


def _calling(fn: Callable[..., Any], version: Callable[[Kernel], Callable[..., Any]]) -> Callable[..., Any]:
    """``fn`` with the kernels it calls (globals of its module) replaced by ``version`` of them."""
    helpers = {name: v for name, v in fn.__globals__.items() if isinstance(v, Kernel) and name in fn.__code__.co_names}
    if not helpers:
        return fn
    scope = dict(fn.__globals__)
    scope.update({name: version(k) for name, k in helpers.items()})
    out = types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__, fn.__closure__)
    out.__qualname__, out.__module__ = fn.__qualname__, fn.__module__
    return out


def kernel(fn: Callable[..., Any] | None = None, *, inline: bool = False) -> Any:
    """Make ``fn`` a :class:`Kernel` (``@kernel``); ``@kernel(inline=True)``: a small helper,
    inlined into the kernels that call it.

    Measured, in the kernels' loops over paths: a helper call that numba does not inline costs
    about 10-35 ns (its array arguments are passed whole, and a slice such as ``x[n, :]`` is a
    new array with its reference counting), which is more than the helper's work. Inlined, a
    small helper costs little (the fund's ``pay_costs``: 26 ns a path with ``rowsum_of`` not
    inlined, 17 ns). Inline only small helpers: each inlined copy is compiled again, and inlining
    ``numpy_sum`` as well (11 ns) made the first run after installing 4 s slower. Keep a helper that
    reads arrays inside branches to scalar arguments: inlined or not, such a helper measured about
    30 ns a call."""
    if fn is None:
        return lambda f: Kernel(f, inline)
    return Kernel(fn, inline)
