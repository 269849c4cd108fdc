"""Reading a results JSON back: typed access to its fields, with errors that name the place.

:meth:`planner.results.RunResult.from_json` and every nested ``from_dict`` read through a
:class:`Node`: a JSON value with its path (``designs[0].cost.usd_per_month``) and the file it
came from. A missing or mistyped field raises :class:`ResultsFileError` naming the file, the
path, what was expected and the fix, so that a CLI user sees one line, never a traceback.
"""

from __future__ import annotations

from typing import Any, NoReturn

from domain.errors import PlannerError
from planner.stats import Estimate

FIX = ("write the file again with `planner run SCENARIO --format json -o FILE` (or "
       "`planner compare`)")
"""How to get a results JSON this planner reads."""


class ResultsFileError(PlannerError):
    """A file is not a results JSON this planner can read (not JSON, another kind of JSON, a
    newer or older ``schema_version``, a missing or mistyped field)."""


def kind_of(value: Any) -> str:
    """Name a JSON value's type for people: ``null``, ``a boolean``, ``a number`` ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__  # pragma: no cover - json.loads gives only the above


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Node:
    """A value of a results JSON, where it is (``path``) and which file it came from."""

    __slots__ = ("path", "source", "value")

    def __init__(self, value: Any, path: str = "", source: str = "results JSON") -> None:
        self.value = value
        self.path = path
        self.source = source

    def fail(self, problem: str, fix: str = FIX) -> NoReturn:
        """Raise :class:`ResultsFileError` about this value."""
        where = f"field `{self.path}`" if self.path else "the top level"
        raise ResultsFileError(f"{self.source}: {where} {problem}; {fix}")

    def _child(self, value: Any, key: str | int) -> Node:
        if isinstance(key, int):
            path = f"{self.path}[{key}]"
        else:
            path = f"{self.path}.{key}" if self.path else key
        return Node(value, path, self.source)

    def _expect(self, what: str) -> NoReturn:
        shown = repr(self.value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        detail = "" if self.value is None or isinstance(self.value, (dict, list)) \
            else f" ({shown})"
        self.fail(f"should be {what}, not {kind_of(self.value)}{detail}")

    def obj(self) -> dict[str, Any]:
        """Return the value as an object (a dict)."""
        if not isinstance(self.value, dict):
            self._expect("an object")
        return self.value

    def __getitem__(self, key: str) -> Node:
        """Return the required field ``key`` of this object."""
        obj = self.obj()
        if key not in obj:
            self._child(None, key).fail("is missing")
        return self._child(obj[key], key)

    def get(self, key: str) -> Node | None:
        """Return the optional field ``key`` of this object (None when absent)."""
        obj = self.obj()
        return self._child(obj[key], key) if key in obj else None

    def items(self) -> list[Node]:
        """Return the entries of this list."""
        if not isinstance(self.value, list):
            self._expect("a list")
        return [self._child(v, i) for i, v in enumerate(self.value)]

    def entries(self) -> dict[str, Node]:
        """Return the fields of this object by name."""
        return {k: self._child(v, k) for k, v in self.obj().items()}

    def num(self) -> float:
        """Return the value as a number (an int stays an int, so it writes back the same)."""
        if not _is_number(self.value):
            self._expect("a number")
        return self.value

    def opt_num(self) -> float | None:
        """Return the value as a number or None."""
        if self.value is not None and not _is_number(self.value):
            self._expect("a number or null")
        return self.value

    def integer(self) -> int:
        """Return the value as an integer."""
        if not isinstance(self.value, int) or isinstance(self.value, bool):
            self._expect("an integer")
        return self.value

    def opt_integer(self) -> int | None:
        """Return the value as an integer or None."""
        return None if self.value is None else self.integer()

    def text(self) -> str:
        """Return the value as a string."""
        if not isinstance(self.value, str):
            self._expect("a string")
        return self.value

    def opt_text(self) -> str | None:
        """Return the value as a string or None."""
        return None if self.value is None else self.text()

    def flag(self) -> bool:
        """Return the value as a boolean."""
        if not isinstance(self.value, bool):
            self._expect("true or false")
        return self.value

    def opt_obj(self) -> dict[str, Any] | None:
        """Return the value as an object or None."""
        return None if self.value is None else self.obj()

    def nums(self, *, nullable: bool = True) -> tuple[float | None, ...]:
        """Return the value as a list of numbers (None entries allowed when ``nullable``)."""
        return tuple(n.opt_num() if nullable else n.num() for n in self.items())

    def num_map(self, *, nullable: bool = False) -> dict[str, float | None]:
        """Return the value as an object of numbers."""
        return {k: n.opt_num() if nullable else n.num() for k, n in self.entries().items()}

    def pair(self) -> tuple[float | None, float | None]:
        """Return a ``[low, high]`` interval (either may be null)."""
        items = self.items()
        if len(items) != 2:
            self.fail(f"should be a list of two numbers (low, high), not of {len(items)}")
        return items[0].opt_num(), items[1].opt_num()

    def one_of(self, allowed: tuple[str, ...] | dict[str, Any]) -> str:
        """Return the value as one of the ``allowed`` strings."""
        value = self.text()
        if value not in allowed:
            self.fail(f"is {value!r}, not one of {', '.join(sorted(allowed))}")
        return value


RESULT_KEYS = ("designs", "recommendation", "scenario")
"""Top-level keys that make a JSON a results JSON (with ``schema_version``)."""


def check_results_kind(node: Node, version: int) -> None:
    """Raise :class:`ResultsFileError` unless ``node`` is a results JSON of ``version``: it
    names what the JSON is instead (its top-level keys) or how its version differs."""
    data = node.value
    if not isinstance(data, dict) or not all(k in data for k in RESULT_KEYS):
        if isinstance(data, dict) and data:
            keys = list(data)
            found = ("an object with the keys " + ", ".join(keys[:8])
                     + (", ..." if len(keys) > 8 else ""))
        else:
            found = "an empty object" if isinstance(data, dict) else kind_of(data)
        raise ResultsFileError(
            f"{node.source}: not a results JSON of `planner run` or `planner compare` "
            f"(--format json): it is {found}, not an object with schema_version, "
            f"{', '.join(RESULT_KEYS)}; {FIX}")
    field = node["schema_version"]
    got = field.integer()
    if got > version:
        field.fail(f"is {got}, newer than this planner reads ({version})",
                   "upgrade the planner (pip install -U gpu-planner) to read it, or "
                   + FIX + " with this one")
    if got < version:
        field.fail(f"is {got}, from an older planner; this one reads {version}", FIX)


def read_estimate(mean: Node, ci: Node | None, n: int) -> Estimate:
    """Rebuild an :class:`Estimate` from its JSON mean and ``[low, high]`` interval (None: the
    JSON keeps the mean only). ``n`` is the number of values it rests on, which the JSON keeps
    only where a report prints it (an SLO's achieved value); elsewhere it is the run's
    replications, and 0 for an unknown mean."""
    value = mean.opt_num()
    low, high = (None, None) if ci is None else ci.pair()
    return Estimate(value, low, high, 0 if value is None else n)


def read_estimates(means: Node, cis: Node | None, keys: tuple[str, ...], n: int
                   ) -> dict[str, Estimate]:
    """Rebuild ``{key: Estimate}`` from a JSON object of means and one of intervals."""
    return {k: read_estimate(means[k], None if cis is None else cis[k], n) for k in keys}
