"""The component registry: one module per block type.

Each module defines ``COMPONENT``, a :class:`Component` whose name is also the
module name, the template ``templates/components/<name>.html``, the
``content_variants/`` folders that use it and the ``data-component`` value.
The slot schema is what variant files are validated against, so every variant
an editor writes fits the design (maximum lengths are design limits).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Literal

FieldKind = Literal["text", "markdown", "link", "flag", "strings", "list", "choice"]


@dataclass(frozen=True)
class Field:
    """One slot of a component.

    ``text`` is plain text; ``markdown`` allows inline emphasis and links
    (never raw HTML); ``link`` is a URL (http, https, mailto or relative);
    ``flag`` is a boolean; ``strings`` a list of short texts; ``list`` a list
    of records described by ``items``; ``choice`` one of ``choices``.
    """

    name: str
    kind: FieldKind = "text"
    required: bool = True
    max_length: int | None = None
    items: tuple[Field, ...] = ()
    min_items: int = 0
    max_items: int | None = None
    choices: tuple[str, ...] = ()
    help: str = ""


@dataclass(frozen=True)
class Component:
    """A block type: its name, slot schema and what it is for."""

    name: str
    description: str
    fields: tuple[Field, ...]

    @property
    def template(self) -> str:
        return f"components/{self.name}.html"

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


def load_registry() -> dict[str, Component]:
    """Import every module of this package and return its components by name.

    A module whose ``COMPONENT.name`` differs from the module name is a
    programming error and raises, so the one-name rule cannot drift.
    """
    registry: dict[str, Component] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        component: Component = module.COMPONENT
        if component.name != info.name:
            raise RuntimeError(f"components/{info.name}.py declares COMPONENT named {component.name!r}")
        registry[component.name] = component
    return registry
