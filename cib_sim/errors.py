"""The error every refusal of bad input raises: :class:`InputError`, a list of ``(where, reason)``.

``where`` names what is at fault the way the caller wrote it: a scenario field path
(``partners[2].capacity``), an argument (``n_paths``, ``target``) or an argument and the value
given (``shock 'exit:X@99'``); ``""`` when nothing narrower applies. The pairs stay a list, never
a string to split again, so a name containing ``"; "`` or a newline stays one problem. The CLI
prints one ``error: where: reason`` line per pair and exits 2 (naming its own flag for an
argument: ``n_paths`` is ``--paths``).

This module imports nothing from the package, so every layer may raise it.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input: ``errors`` lists ``(where, reason)`` pairs (see the module docstring)."""

    def __init__(self, errors: list[tuple[str, str]] | tuple[str, str]):
        if isinstance(errors, tuple):
            errors = [errors]
        self.errors = [(str(w), str(r)) for w, r in errors]
        super().__init__("\n".join(f"{w}: {r}" if w else r for w, r in self.errors))

    def __reduce__(self):  # rebuilt from its pairs (an error raised in a worker process travels)
        return (type(self), (self.errors,))


def bad(where: str, reason: str) -> InputError:
    """One problem: ``raise bad("n_paths", "must be a whole number >= 1 (got 0)")``."""
    return InputError([(where, reason)])
