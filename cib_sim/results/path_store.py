"""Where a run's per-path measures live: in memory, or on disk for runs too big for memory.

A :class:`PathStore` is a read-only mapping from a measure's name to its array, first axis
paths, e.g. ``tranche_irr`` (paths, K) per year, ``stop_period`` (paths,) (see
:class:`~cib_sim.results.Results`). It is filled chunk by chunk as the engine produces paths, so
a run holds one chunk at a time whatever its number of paths:

- ``memory``: arrays allocated once and filled in place (about 600 bytes a path for the
  reference scenarios: fine up to a few hundred thousand paths).
- ``disk``: one raw file per measure in a temporary folder (``tempfile.mkdtemp``, under
  ``$CIB_SIM_TMPDIR`` when set). Each chunk is written at its offset as it arrives; once full,
  the files are read back as read-only ``np.memmap`` arrays of the same dtype and shape, so
  ``store["tranche_irr"][:, k]`` works as before. The folder is removed by :meth:`PathStore.close`
  or when the store is garbage-collected (arrays already handed out stay readable on POSIX
  systems: an unlinked file lives as long as its mapping). A full disk is a
  :class:`DiskFullError` naming the folder and ``$CIB_SIM_TMPDIR``, and the folder is removed.
- ``auto`` (the default): disk when ``n_paths x bytes per path`` (known from the first chunk)
  exceeds :data:`DEFAULT_MEMORY_MB` MiB, or ``$CIB_SIM_PATH_MEMORY_MB`` when set.

Disk files are column-major (``order="F"``): one column of a measure (one tranche, one
commissioner) is one contiguous stretch of its file. :meth:`PathStore.column` and
:meth:`PathStore.rows` read through ordinary file reads into fresh arrays, not through the
mapping, so summaries and writers touch one column or one block of rows at a time and the
process's resident memory does not grow with the number of paths (pages read through a mapping
stay counted against the process for as long as the mapping lives).

Pickling (Streamlit's ``st.cache_data``, worker processes) gives a *memory* store holding all the
data: a temporary folder cannot travel to another process or outlive this one.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from cib_sim.errors import bad

BACKENDS = ("auto", "memory", "disk")
DEFAULT_MEMORY_MB = 256.0  # auto: the largest per-path data (MiB) kept in memory
MEMORY_MB_ENV = "CIB_SIM_PATH_MEMORY_MB"
TMPDIR_ENV = "CIB_SIM_TMPDIR"


class DiskFullError(OSError):
    """The disk holding a disk store's temporary folder filled up (or hit a quota) during a run."""

    def __init__(self, folder: Path | str | None):
        self.folder = folder
        super().__init__(
            f"the disk holding the temporary folder {folder} is full: the run's per-path measures did not fit. "
            f"Free space there, or set {TMPDIR_ENV} to a folder on a disk with more room"
        )
        self.errno = errno.ENOSPC


_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}


@contextmanager
def _disk(folder: Path | None) -> Iterator[None]:
    """Turn a full disk (or a quota, or a file too big) into a :class:`DiskFullError` naming ``folder``."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _DISK_FULL and not isinstance(exc, DiskFullError):
            raise DiskFullError(folder) from exc
        raise


def check_backend(store: str) -> str:
    """``store`` if it names a backend, else a ``ValueError`` listing the allowed ones."""
    if not isinstance(store, str) or store not in BACKENDS:
        raise bad("path_store", f"must be one of {', '.join(map(repr, BACKENDS))} (got {store!r})")
    return store


def memory_limit_bytes() -> float:
    """The ``auto`` threshold in bytes: ``$CIB_SIM_PATH_MEMORY_MB`` MiB, or 256 MiB."""
    text = os.environ.get(MEMORY_MB_ENV, "").strip()
    if not text:
        return DEFAULT_MEMORY_MB * 2**20
    try:
        mb = float(text)
    except ValueError:
        raise bad(MEMORY_MB_ENV, f"must be a number of MiB (got {text!r})") from None
    if not 0 <= mb < float("inf"):
        raise bad(MEMORY_MB_ENV, f"must be a number >= 0 (got {text!r})")
    return mb * 2**20


def bytes_per_path(like: Mapping[str, np.ndarray]) -> int:
    """Bytes one path takes across the measures of ``like`` (arrays shaped (paths, ...))."""
    return sum(v.dtype.itemsize * int(np.prod(v.shape[1:], dtype=np.int64)) for v in like.values())


def choose_backend(store: str, n_paths: int, per_path: int) -> str:
    """``memory`` or ``disk`` for a run of ``n_paths`` paths of ``per_path`` bytes each."""
    if check_backend(store) != "auto":
        return store
    return "disk" if n_paths * per_path > memory_limit_bytes() else "memory"


class PathStore(Mapping[str, np.ndarray]):
    """Per-path measures, filled chunk by chunk (:meth:`write`) and then read (:meth:`seal`).

    Build one with :meth:`allocate` (empty, to be filled) or :meth:`from_arrays` (arrays already
    in memory, not copied). Shapes: ``(n_paths,) + tail`` per measure.
    """

    def __init__(self, backend: str, n_paths: int, layout: dict[str, tuple[tuple[int, ...], np.dtype]]):
        self.backend = backend
        self.n_paths = int(n_paths)
        self._layout = layout  # name -> (tail shape, dtype)
        self._arrays: dict[str, np.ndarray] = {}
        self._files: dict[str, Path] = {}
        self._writers: dict = {}
        self._sealed = False
        self._closed = False
        self.folder: Path | None = None
        self._finalizer = None

    # ---- building
    @classmethod
    def allocate(cls, n_paths: int, like: Mapping[str, np.ndarray], store: str = "auto") -> PathStore:
        """An empty store for ``n_paths`` paths of the measures in ``like`` (a chunk's arrays,
        which give each measure's dtype and trailing shape). ``store``: see the module doc."""
        backend = choose_backend(store, n_paths, bytes_per_path(like))
        layout = {k: (tuple(v.shape[1:]), v.dtype) for k, v in like.items()}
        self = cls(backend, n_paths, layout)
        if backend == "memory":
            self._arrays = {k: np.empty((n_paths,) + tail, dtype=dt) for k, (tail, dt) in layout.items()}
            return self
        parent = os.environ.get(TMPDIR_ENV) or None
        with _disk(parent or tempfile.gettempdir()):
            self.folder = Path(tempfile.mkdtemp(prefix="cib_sim_paths_", dir=parent))
        # The finalizer holds the folder's name, not the store, so it does not keep it alive.
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self.folder), ignore_errors=True)
        try:
            with _disk(self.folder):
                for i, (k, (tail, dt)) in enumerate(layout.items()):
                    if _size(tail) == 0:  # nothing to store (e.g. no guarantees), and mmap refuses empty files
                        self._arrays[k] = np.empty((n_paths,) + tail, dtype=dt)
                        continue
                    self._files[k] = self.folder / f"{i:02d}_{k}.raw"
                    f = open(self._files[k], "w+b")  # noqa: SIM115 (open until seal(): chunks keep coming)
                    self._writers[k] = f
                    f.truncate(n_paths * _size(tail) * dt.itemsize)
        except BaseException:
            self.close()
            raise
        return self

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> PathStore:
        """A sealed memory store over ``arrays`` (used as they are, not copied)."""
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        n = next(iter(arrays.values())).shape[0] if arrays else 0
        self = cls("memory", n, {k: (tuple(v.shape[1:]), v.dtype) for k, v in arrays.items()})
        self._arrays = dict(arrays)
        self._sealed = True
        return self

    def write(self, offset: int, chunk: Mapping[str, np.ndarray]) -> None:
        """Store paths ``offset .. offset + n`` from ``chunk`` (arrays shaped (n, ...))."""
        if self._sealed:
            raise ValueError("path store: already sealed, cannot write")
        for k, v in chunk.items():
            n = v.shape[0]
            if n == 0:
                continue
            if offset + n > self.n_paths:
                raise ValueError(f"path store: paths {offset}..{offset + n} past the end ({self.n_paths})")
            if k not in self._writers:
                self._arrays[k][offset : offset + n] = v
                continue
            _, dt = self._layout[k]
            # Column c of the (n, M) chunk goes to bytes (c * n_paths + offset) * itemsize on:
            # the file is the (n_paths, M) array in column-major order.
            cols = np.ascontiguousarray(np.asarray(v, dtype=dt).reshape(n, -1, order="F").T)  # (M, n)
            f = self._writers[k]
            with _disk(self.folder):
                for c in range(cols.shape[0]):
                    f.seek((c * self.n_paths + offset) * dt.itemsize)
                    f.write(cols[c].data)

    def seal(self) -> PathStore:
        """Finish writing: disk files are closed and mapped read-only. Returns the store."""
        for k, f in self._writers.items():
            with _disk(self.folder):
                f.close()  # flushes: a full disk may show only now
            tail, dt = self._layout[k]
            self._arrays[k] = np.memmap(self._files[k], dtype=dt, mode="r", shape=(self.n_paths,) + tail, order="F")
        self._writers = {}
        self._sealed = True
        return self

    def derive(self, name: str, tail: tuple[int, ...], column: Callable[[tuple[int, ...]], np.ndarray], dtype=np.float64) -> np.ndarray:
        """A derived (paths, *tail) array filled a column at a time by ``column(index)``
        (``(paths,)`` values for trailing ``index``): in memory for a memory store, a read-only
        mapped file in the store's folder for a disk store. Not one of the store's keys."""
        dt = np.dtype(dtype)
        if self.backend == "memory" or self.folder is None or _size(tail) == 0:
            out = np.empty((self.n_paths,) + tuple(tail), dtype=dt)
            for idx in np.ndindex(*tail):
                out[(slice(None),) + idx] = column(idx)
            return out
        self._check_open()
        file = self.folder / f"derived_{name}.raw"
        with _disk(self.folder), open(file, "wb") as f:
            # Column-major: trailing indices in Fortran order, one column after the other.
            for c in range(_size(tail)):
                idx = np.unravel_index(c, tail, order="F")
                f.write(np.ascontiguousarray(column(tuple(int(i) for i in idx)), dtype=dt).data)
        return np.memmap(file, dtype=dt, mode="r", shape=(self.n_paths,) + tuple(tail), order="F")

    # ---- reading, a bounded piece at a time
    def column(self, key: str, index: int | tuple[int, ...] = ()) -> np.ndarray:
        """(paths,) a fresh in-memory copy of one column of ``key`` (``index`` into its trailing
        axes; ``()`` for a (paths,) measure)."""
        idx = (index,) if isinstance(index, (int, np.integer)) else tuple(index)
        arr = self._get(key)
        if key not in self._files:
            return np.array(arr[(slice(None),) + idx])
        tail, dt = self._layout[key]
        c = int(np.ravel_multi_index(idx, tail, order="F")) if tail else 0
        out = np.fromfile(self._files[key], dtype=dt, count=self.n_paths, offset=c * self.n_paths * dt.itemsize)
        if out.size != self.n_paths:
            raise OSError(f"path store: {self._files[key]} is shorter than expected")
        return out

    def rows(self, key: str, start: int, stop: int) -> np.ndarray:
        """(stop - start, ...) paths ``start .. stop`` of ``key``, C-ordered like a memory
        store's rows (so row sums round the same way). A view for a memory store."""
        arr = self._get(key)
        if key not in self._files:
            return arr[start:stop]
        tail, dt = self._layout[key]
        n = max(0, min(stop, self.n_paths) - start)
        cols = np.empty((_size(tail), n), dtype=dt)
        with open(self._files[key], "rb") as f:
            for c in range(cols.shape[0]):
                f.seek((c * self.n_paths + start) * dt.itemsize)
                if f.readinto(cols[c].data) != n * dt.itemsize:
                    raise OSError(f"path store: {self._files[key]} is shorter than expected")
        # (M, n) -> (n, M) is Fortran-ordered: reshape it Fortran-wise, then copy to C order.
        return np.ascontiguousarray(cols.T.reshape((n,) + tail, order="F"))

    def tail(self, key: str) -> tuple[int, ...]:
        """The trailing shape of ``key`` (its shape without the paths axis)."""
        return self._layout[key][0]

    # ---- the Mapping
    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("path store: closed (its temporary folder was removed)")

    def _get(self, key: str) -> np.ndarray:
        self._check_open()
        if not self._sealed:
            raise ValueError("path store: still being written (call seal() first)")
        return self._arrays[key]

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._layout:
            raise KeyError(key)
        return self._get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._layout

    def __iter__(self) -> Iterator[str]:
        return iter(self._layout)

    def __len__(self) -> int:
        return len(self._layout)

    def __repr__(self) -> str:
        where = f", folder={str(self.folder)!r}" if self.folder is not None else ""
        return f"PathStore(backend={self.backend!r}, n_paths={self.n_paths}, keys={len(self)}{where})"

    # ---- lifetime
    def close(self) -> None:
        """Remove a disk store's temporary folder now; it can no longer be read (arrays already
        handed out stay readable on POSIX systems). A memory store is left as it is."""
        for f in self._writers.values():
            try:
                f.close()
            except OSError:  # a full disk cannot flush what is buffered: the folder goes anyway
                pass
        self._writers = {}
        if self._finalizer is not None:
            self._arrays = {}
            self._closed = True
            self._finalizer()

    def __reduce__(self):
        # A disk store travels as its data in memory: its folder belongs to this process.
        self._check_open()
        return (PathStore.from_arrays, ({k: np.array(self._get(k)) for k in self._layout},))


def _size(tail: tuple[int, ...]) -> int:
    return int(np.prod(tail, dtype=np.int64))
