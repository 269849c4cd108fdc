"""Read scenario YAML safely: safe tags only, no duplicate keys, bounded nesting and expansion.

``yaml.safe_load`` builds no objects but plain ones, yet three inputs still hurt it: a
"billion laughs" file (nine aliases per level, nine levels deep: 300 bytes that expand to 387
million values when validated or copied), deep nesting (50,000 ``[`` overflow the composer's
recursion) and a key written twice (the last one silently wins). :func:`load_yaml` composes the
document with :class:`BoundedLoader`, which counts each node's *expanded* size (an alias counts
as the whole value it stands for) and its depth while composing, and refuses a document past
:class:`YamlLimits` before anything expands it; a mapping that repeats a key is refused with
the key and both lines. The CLI (:func:`planner.schema.load_scenario`) and the dashboard's
uploads (:mod:`dashboards.scenario_logic`) read YAML through this one function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from domain.errors import ScenarioError
from planner.schema_errors import shorten

__all__ = ["CLI_LIMITS", "UPLOAD_LIMITS", "BoundedLoader", "YamlLimits", "load_yaml"]

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class YamlLimits:
    """How much one YAML document may hold.

    ``max_nodes`` bounds the values of the document once every alias is expanded (what
    validation, a JSON copy or an error message walk); ``max_depth`` bounds the nesting of
    sequences and mappings.
    """

    max_nodes: int
    max_depth: int


CLI_LIMITS = YamlLimits(max_nodes=200_000, max_depth=64)
"""A scenario file (the largest bundled one holds about 250 values)."""
UPLOAD_LIMITS = YamlLimits(max_nodes=20_000, max_depth=32)
"""A scenario uploaded to the dashboard (at most 256 KB)."""


class _Refused(yaml.MarkedYAMLError):
    """A document past its limits, or a repeated key, at a mark."""


class BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses repeated keys and documents past :class:`YamlLimits`.

    Composing records each node's expanded size (1 for a scalar, 1 plus its items' sizes for a
    collection; an alias adds the size of the node it names) and refuses the first node past
    ``max_nodes``, so a billion-laughs document stops after a few hundred events. An alias to a
    node still being composed (a recursive alias) is refused too.
    """

    def __init__(self, stream: str, limits: YamlLimits) -> None:
        super().__init__(stream)
        self.limits = limits
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            size = self._sizes.get(id(node))
            if size is None:
                raise _Refused(None, None, f"alias *{event.anchor} refers to the value that "
                               "holds it (a recursive alias); write the value out instead",
                               event.start_mark)
            return self._bounded(node, size, event)
        self._depth += 1
        try:
            if self._depth > self.limits.max_depth:
                raise _Refused(None, None, f"nesting deeper than {self.limits.max_depth} "
                               "levels; a scenario needs far fewer, check the brackets and "
                               "indentation", event.start_mark)
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, ScalarNode):
            size = 1
        elif isinstance(node, SequenceNode):
            size = 1 + sum(self._sizes[id(item)] for item in node.value)
        else:
            size = 1 + sum(self._sizes[id(k)] + self._sizes[id(v)] for k, v in node.value)
        self._sizes[id(node)] = size
        return self._bounded(node, size, event)

    def _bounded(self, node: Node, size: int, event: yaml.Event) -> Node:
        if size > self.limits.max_nodes:
            raise _Refused(None, None, f"more than {self.limits.max_nodes:,} values once its "
                           "aliases (*name) are expanded; write the values out, or use fewer "
                           "aliases", event.start_mark)
        return node

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Return the mapping of ``node``, refusing a key written twice in it.

        Keys brought in by a merge (``<<: *base``) may be overridden; only the mapping's own
        keys must be unique.
        """
        if isinstance(node, MappingNode):
            first: dict[Any, Node] = {}
            for key_node, _value in node.value:
                if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
                    continue
                key = self.construct_object(key_node, deep=True)
                if key in first:
                    raise _Refused(None, None, f"key {shorten(key)} is written twice in this "
                                   f"mapping (first at line {first[key].start_mark.line + 1}); "
                                   "keep one of them", key_node.start_mark)
                first[key] = key_node
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, label: str, limits: YamlLimits = CLI_LIMITS) -> Any:
    """Return the value of the YAML document ``text``, read with :class:`BoundedLoader`.

    Parameters
    ----------
    text : str
        The document.
    label : str
        The file as the user named it; starts every message.
    limits : YamlLimits
        :data:`CLI_LIMITS` for a file given on the command line, :data:`UPLOAD_LIMITS` for an
        upload.

    Raises
    ------
    ScenarioError
        A syntax error, a repeated key, or a document past ``limits``, with the line and
        column and the fix.
    """
    loader = BoundedLoader(text, limits)
    try:
        return loader.get_single_data()
    except _Refused as exc:
        mark = exc.problem_mark
        raise ScenarioError(f"{label}: line {mark.line + 1}, column {mark.column + 1}: "
                            f"{exc.problem}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown line"
        what = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise ScenarioError(f"{label}: YAML syntax error at {where}: {_clip(what, 200)}; fix "
                            "the YAML near that line (check indentation, colons and quotes)"
                            ) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{label}: YAML error ({_clip(str(exc), 200)}); fix the YAML "
                            "syntax") from None
    finally:
        loader.dispose()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."
