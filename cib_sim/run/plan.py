"""The run planner: which paths run together, and from which seeds. One place for the rule.

A run of ``n_paths`` paths is cut into **blocks** of :data:`BLOCK` paths (the last may be
partial). Block ``b`` draws every random number of its paths from its own
:class:`numpy.random.SeedSequence`, the ``b``-th child of the run's root sequence. Blocks are then
grouped into **chunks** (a whole number of blocks, ``chunk_size`` paths rounded up), the unit of
work of a process, a pool or a Dask cluster. For a given number of paths, a path's numbers depend
only on the root seed and the path's index (a run of fewer paths has a smaller last block, drawn
differently), so results are bit-identical whatever the chunk size, workers or machine.

The seed rule (:func:`root_sequence`):

- an ``int`` (or ``None``-free integer-like) seeds ``SeedSequence(seed)``;
- a :class:`~numpy.random.SeedSequence` is used *as it stands*, without advancing it: its blocks
  are the children it would spawn next (after those it has already spawned, so they never
  repeat a stream already handed out), and a second run given the same object gets the same
  blocks (common random numbers across variants, points and solver steps);
- a :class:`~numpy.random.Generator` gives one draw of 63 bits as the seed (it advances the
  generator, as any use of a generator does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cib_sim.errors import bad
from cib_sim.run.options import whole_number

BLOCK = 4096
"""Paths per seeded block. Changing it changes every stream: treat it as part of the format."""

DEFAULT_CHUNK = 4 * BLOCK
"""Paths per chunk: measured on two workers, 4% faster than 2 blocks, 15% faster than 6."""

Seed = int | np.integer | np.random.SeedSequence | np.random.Generator


def root_sequence(seed: Any) -> np.random.SeedSequence:
    """The run's root :class:`~numpy.random.SeedSequence` (see the module's seed rule). A given
    sequence is copied, spawn counter included, so the caller's object is never advanced."""
    if isinstance(seed, np.random.SeedSequence):
        return np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key, pool_size=seed.pool_size,
                                      n_children_spawned=seed.n_children_spawned)
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2**63)))
    return np.random.SeedSequence(check_seed(seed))


def check_seed(seed: Any) -> Any:
    """``seed`` if it is a seed (see the module's seed rule), without using it; else bad input."""
    if isinstance(seed, (np.random.SeedSequence, np.random.Generator)):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise bad("seed", f"must be a whole number >= 0, a SeedSequence or a Generator (got {seed!r})")
    return int(seed)


def check_plan(n_paths: Any, seed: Any, chunk_size: Any = None, keep_paths: Any = 0) -> int:
    """Check the arguments of :meth:`RunPlan.make` (cheaply: nothing is spawned); ``n_paths``."""
    n = check_n_paths(n_paths)
    check_seed(seed)
    if chunk_size is not None:
        whole_number("chunk_size", chunk_size, 1)
    whole_number("keep_paths", keep_paths, 0)
    return n


def check_n_paths(n_paths: Any) -> int:
    """``n_paths`` as an int, or an :class:`~cib_sim.errors.InputError` naming it."""
    return whole_number("n_paths", n_paths, 1)


def block_seeds(seed: Any, n_paths: int) -> list[np.random.SeedSequence]:
    """One SeedSequence per block of :data:`BLOCK` paths (the last may be partial)."""
    return root_sequence(seed).spawn(-(-int(n_paths) // BLOCK))


@dataclass(frozen=True)
class Block:
    """One seeded block: paths ``start`` to ``start + size - 1`` of the run."""

    index: int
    seed: np.random.SeedSequence
    size: int
    start: int


@dataclass(frozen=True)
class Chunk:
    """Consecutive blocks run together; the first ``keep`` of its paths keep their full flows."""

    blocks: tuple[Block, ...]
    keep: int

    @property
    def seeds(self) -> list[np.random.SeedSequence]:
        return [b.seed for b in self.blocks]

    @property
    def sizes(self) -> list[int]:
        return [b.size for b in self.blocks]

    @property
    def n(self) -> int:
        return sum(b.size for b in self.blocks)


@dataclass(frozen=True)
class RunPlan:
    """Blocks and chunks of one run. ``keep_paths``: the run's first paths that keep their full
    period-by-period flows (each chunk keeps its share of them)."""

    n_paths: int
    blocks: tuple[Block, ...]
    chunks: tuple[Chunk, ...]

    @classmethod
    def make(cls, n_paths: Any, seed: Any = 1, chunk_size: int | None = None, keep_paths: int = 0) -> "RunPlan":
        n = check_plan(n_paths, seed, chunk_size, keep_paths)
        seeds = block_seeds(seed, n)
        blocks = tuple(Block(i, sd, min(BLOCK, n - i * BLOCK), i * BLOCK) for i, sd in enumerate(seeds))
        per_chunk = max(1, -(-(chunk_size or DEFAULT_CHUNK) // BLOCK))
        chunks, left = [], max(0, int(keep_paths))
        for i in range(0, len(blocks), per_chunk):
            group = blocks[i : i + per_chunk]
            keep = min(left, sum(b.size for b in group))
            left -= keep
            chunks.append(Chunk(group, keep))
        return cls(n, blocks, tuple(chunks))

    def slices(self, size: int, keep_paths: int = 0) -> list[tuple[Block, int, int, int]]:
        """Pieces of at most ``size`` paths within blocks, for models too slow for whole blocks
        (the reference model): ``(block, start, stop, keep)`` with ``start``/``stop`` paths
        within the block and ``keep`` the piece's share of the run's first ``keep_paths``. A
        path's numbers still come from its block's seed, so the pieces change nothing."""
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"chunk_size: must be a whole number >= 1 (got {size!r})")
        out, left = [], max(0, int(keep_paths))
        for b in self.blocks:
            for start in range(0, b.size, size):
                stop = min(b.size, start + size)
                keep = min(left, stop - start)
                left -= keep
                out.append((b, start, stop, keep))
        return out
