"""YAML loading with limits, so a hostile post file costs milliseconds, not the site.

`yaml.safe_load` is the reference, but it will build whatever a file describes: a few hundred
bytes of nested aliases describe billions of values (an "alias bomb"), and deep nesting
exhausts the stack. Here the document is first composed into nodes, which is linear in the
file's size; the size it would have with every alias expanded is counted on those nodes; only
then is it built into Python values, exactly as `safe_load` builds them.
"""

from __future__ import annotations

from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FrontMatterTooBig(ValueError):
    """Front matter refused for its size or shape; the message says which limit."""


def bracket_depth(source: str) -> int:
    """The deepest nesting of [ and { in a text (quoted ones count too: an upper bound)."""
    depth = deepest = 0
    for character in source:
        if character in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]}":
            depth = max(0, depth - 1)
    return deepest


def check_depth(source: str, max_depth: int) -> None:
    """Refuse flow nesting deep enough to exhaust a recursive parser's stack."""
    if source.count("[") + source.count("{") <= max_depth:
        return  # nesting cannot be deeper than the brackets opened (a cold start checks thousands)
    if bracket_depth(source) > max_depth:
        raise FrontMatterTooBig(f"it nests values more than {max_depth} levels deep")


def load_bounded_yaml(source: str, max_values: int, max_depth: int) -> Any:
    """`yaml.safe_load(source)`, refusing documents deeper than `max_depth` or holding more
    than `max_values` values once aliases are expanded."""
    check_depth(source, max_depth)
    loader = _LOADER(source)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        # Without an alias (each one needs a `*`) the nodes form a tree, whose size and depth
        # one cheap walk gives; any doubt, and every refusal, goes through the full count.
        if "*" in source or not _tree_fits(node, max_values, max_depth):
            _check_node(node, max_values, max_depth)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_node(root: yaml.Node, max_values: int, max_depth: int) -> None:
    """Count the values `root` expands to, and its depth, without expanding anything."""
    sizes: dict[int, int] = {}  # per node id: its expanded size, computed once
    depths: dict[int, int] = {}
    # Children before parents, without recursion: a node is finished when its children are.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    active: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = _children(node)
        if not children_done:
            if key in active:  # a recursive alias (`&a [*a]`): infinite once expanded
                raise FrontMatterTooBig("an alias refers to itself")
            active.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        active.discard(key)
        sizes[key] = min(max_values + 1, 1 + sum(sizes[id(child)] for child in children))
        depths[key] = 1 + max((depths[id(child)] for child in children), default=0)
        if sizes[key] > max_values:
            raise FrontMatterTooBig(f"its aliases expand to more than {max_values} values")
        if depths[key] > max_depth:
            raise FrontMatterTooBig(f"it nests values more than {max_depth} levels deep")


def _tree_fits(root: yaml.Node, max_values: int, max_depth: int) -> bool:
    """True when a tree of nodes (no node reached twice) holds at most `max_values` values
    and nests at most `max_depth` deep: `_check_node`'s verdict for a tree, a tenth the cost
    (a cold start loads thousands of front matters)."""
    count = deepest = 0
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        deepest = max(deepest, depth)
        if isinstance(node, yaml.MappingNode):
            stack.extend((part, depth + 1) for pair in node.value for part in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
    return count <= max_values and deepest <= max_depth


def _children(node: yaml.Node) -> list[yaml.Node]:
    """The nodes directly inside a sequence or mapping node."""
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
