"""Load and validate the site's content: pages and editors' variant files.

Every problem is reported with the file, line and field in plain words, once,
sorted by file and line, and every file is checked as far as it can be in one
pass: a file that is not YAML cannot be checked further, but one with both a
field and a condition problem gets both, and a broken page does not hide the
problems of its blocks' variant files. A file with problems is left out of the
catalog (the loader keeps the previous good version of it when one is given),
so a bad edit never takes the site down. Warnings (a condition that is
probably not what the editor meant) are reported the same way, sorted in with
the problems, and leave the file in.

Loading has no side effects: how problems are shown (logged while serving,
printed by ``flask content lint``) is the caller's business.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from markupsafe import Markup

from app.content import markdown, yamlfile
from app.engine.attributes import attribute_kinds, lookup
from app.engine.conditions import ConditionError
from app.engine.lint import check_condition, warn_condition
from app.engine.model import SEGMENT_KEYS, Arrangement, BlockSettings, Catalog, PageSpec, Rule, Slot, Variant
from app.engine.rules import compile_rule, precedence, referenced_attributes
from components import Component, Field

LAYOUTS = ("landing", "article", "guides", "signup", "welcome")
RESERVED = ("when", "priority", "topics", "control", "starts", "ends", "audience")
#: Named conditions that variants use as ``audience: <name>``.
AUDIENCES = "_audiences.yaml"
#: A block's settings file, beside its variants.
BLOCK_SETTINGS = "_block.yaml"
STRATEGIES = ("rules", "learn")
GOALS = ("click", "signup")
#: The largest exploration floor: more would hardly leave room to learn.
MAX_EXPLORE = 0.5
MAX_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one file.

    An error keeps the file (or the page or block it belongs to) from being
    served; a warning is a doubt the editor should look at, and the file is
    served all the same.
    """

    path: str
    line: int | None
    field: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        message = f"warning: {self.message}" if self.severity == "warning" else self.message
        return f"{where}: {self.field}: {message}" if self.field else f"{where}: {message}"

    def sort_key(self) -> tuple[str, int, str]:
        """File, line, field: the order an editor reads problems in (a whole-file problem first)."""
        return self.path, self.line or 0, self.field


@dataclass(frozen=True)
class Page:
    """A page as declared in ``pages/``: its guardrails and its presentation."""

    spec: PageSpec
    title: str
    description: str
    layout: str
    topics: tuple[str, ...] = ()
    summary: str = ""
    body_html: Markup | None = None
    source: str = ""

    @property
    def path(self) -> str:
        return self.spec.path


@dataclass(frozen=True)
class Site:
    """An immutable snapshot of all content; swapped whole on reload."""

    name: str
    topics: tuple[str, ...]
    pages: Mapping[str, Page]
    catalog: Catalog
    #: Sorted by :meth:`Problem.sort_key`, each once.
    problems: tuple[Problem, ...] = ()

    def guides(self) -> list[Page]:
        """Article pages, in path order."""
        return sorted((p for p in self.pages.values() if p.layout == "article"), key=lambda p: p.path)

    def variant_count(self) -> int:
        return len(self.catalog.defaults) + sum(len(v) for v in self.catalog.conditional.values())


@dataclass
class _File:
    """Where a file is and what we know of it while validating."""

    path: Path
    rel: str
    lines: dict[yamlfile.PathKey, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    #: Reported like problems, but the file is still used.
    warnings: list[Problem] = field(default_factory=list)
    #: A hash of the file's bytes (a paused rule resumes when its file changes).
    digest: str = ""

    def problem(self, key: yamlfile.PathKey, message: str) -> None:
        self.problems.append(Problem(self.rel, yamlfile.line_of(self.lines, key), _dotted(key), message))

    def warn(self, key: yamlfile.PathKey, message: str) -> None:
        self.warnings.append(Problem(self.rel, yamlfile.line_of(self.lines, key), _dotted(key), message, "warning"))


def _dotted(key: yamlfile.PathKey) -> str:
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _read(file: _File) -> Any:
    try:
        raw = file.path.read_bytes()
    except OSError as exc:
        file.problem((), f"cannot be read: {exc.strerror}")
        return None
    if len(raw) > MAX_FILE_BYTES:
        file.problem((), f"is {len(raw)} bytes; a content file may be at most {MAX_FILE_BYTES}")
        return None
    file.digest = hashlib.sha256(raw).hexdigest()[:16]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        file.problem((), "is not UTF-8 text")
        return None
    try:
        data, file.lines = yamlfile.load(text)
    except yamlfile.YamlError as exc:
        file.problems.append(Problem(file.rel, exc.line, "", exc.message))
        return None
    if not isinstance(data, dict):
        file.problem((), "must be a set of 'field: value' lines")
        return None
    return data


def _close(word: str, options: list[str] | tuple[str, ...]) -> str:
    found = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean '{found[0]}'?)" if found else ""


class Loader:
    """Loads a content root: ``pages/``, ``content_variants/`` and the component registry."""

    def __init__(self, root: Path, registry: Mapping[str, Component]) -> None:
        self.root = root
        self.registry = registry
        self._kinds = attribute_kinds()
        self._page_paths: set[str] = set()
        #: Block -> the component named for it by any page file, valid or not (None: unknown).
        self._declared_blocks: dict[str, str | None] = {}
        self._topics_known: tuple[str, ...] = ()
        self._audiences: dict[str, Mapping[str, Any]] = {}

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    # ------------------------------------------------------------------ site

    def load(self, previous: Site | None = None) -> Site:
        """Load everything; on a broken file keep its version from ``previous`` if there is one."""
        problems: list[Problem] = []
        name, topics = self._site_settings(problems)
        self._topics_known = topics
        self._audiences = self._load_audiences(problems)
        pages = self._pages(topics, problems, previous)
        blocks: dict[str, str] = {}
        for page in pages.values():
            for slot in page.spec.slots:
                blocks.setdefault(slot.block, slot.component)
        catalog = self._catalog(blocks, topics, problems, previous)
        # A page whose arrangement or blocks point at missing defaults still renders
        # (the block is left out); say so once, on the page.
        for block in sorted(blocks):
            if block not in catalog.defaults:
                problems.append(
                    Problem(
                        f"content_variants/{block}",
                        None,
                        "",
                        "has no valid default variant (a file without 'when:'), so the block is not shown",
                    )
                )
        # The same link twice in one field is one problem; ties keep the order found.
        unique = sorted(dict.fromkeys(problems), key=Problem.sort_key)
        return Site(name=name, topics=topics, pages=pages, catalog=catalog, problems=tuple(unique))

    def _site_settings(self, problems: list[Problem]) -> tuple[str, tuple[str, ...]]:
        file = _File(self.root / "pages" / "_site.yaml", "pages/_site.yaml")
        data = _read(file) or {}
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            file.problem(("name",), "the site needs a name")
            name = "Tessera"
        topics = data.get("topics", [])
        if not isinstance(topics, list) or not all(isinstance(t, str) and t for t in topics):
            file.problem(("topics",), "must be a list of topic names")
            topics = []
        problems.extend(file.problems)
        return name, tuple(topics)

    # ----------------------------------------------------------------- pages

    def _pages(self, topics: tuple[str, ...], problems: list[Problem], previous: Site | None) -> dict[str, Page]:
        files = sorted(p for p in (self.root / "pages").rglob("*.yaml") if not p.name.startswith("_"))
        raw: list[tuple[_File, dict[str, Any]]] = []
        failed: set[str] = set()
        for path in files:
            file = _File(path, self._rel(path))
            data = _read(file)
            if data is not None:
                raw.append((file, data))
            else:
                problems.extend(file.problems)
                failed.add(file.rel)
        # Blocks named by any page file, valid or not: a broken page should not
        # also make its variant folders look orphaned, nor hide their problems.
        self._declared_blocks = {}
        for _, d in raw:
            for item in d.get("blocks") if isinstance(d.get("blocks"), list) else []:
                if isinstance(item, dict) and isinstance(item.get("block"), str):
                    component = item.get("component")
                    known = component if isinstance(component, str) and component in self.registry else None
                    if self._declared_blocks.get(item["block"]) is None:
                        self._declared_blocks[item["block"]] = known
        # Links between pages are checked against every declared path.
        self._page_paths = {d["path"] for _, d in raw if isinstance(d.get("path"), str)}
        if previous is not None:
            self._page_paths |= set(previous.pages)
        pages: dict[str, Page] = {}
        block_components: dict[str, tuple[str, str]] = {}
        for file, data in raw:
            page = self._page(file, data, topics, block_components)
            problems.extend(file.problems + file.warnings)
            if page is None:
                failed.add(file.rel)
            elif page.path in pages:
                problems.append(
                    Problem(
                        file.rel,
                        file.lines.get(("path",)),
                        "path",
                        f"'{page.path}' is already declared by {pages[page.path].source}",
                    )
                )
            else:
                pages[page.path] = page
        for old in previous.pages.values() if previous else ():
            if old.source in failed and old.path not in pages:
                pages[old.path] = old
                problems.append(Problem(old.source, None, "", "the previous good version is still served"))
        return pages

    def _page(
        self,
        file: _File,
        data: dict[str, Any],
        topics: tuple[str, ...],
        block_components: dict[str, tuple[str, str]],
    ) -> Page | None:
        known = {
            "path",
            "title",
            "description",
            "layout",
            "topics",
            "summary",
            "budget",
            "blocks",
            "arrangements",
            "body",
        }
        for key in data:
            if key not in known:
                file.problem((key,), f"is not a page setting{_close(key, sorted(known))}")
        path = data.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            file.problem(("path",), "must be a site path starting with '/'")
        for key, limit in (("title", 90), ("description", 160), ("summary", 160)):
            value = data.get(key, "" if key == "summary" else None)
            if not isinstance(value, str) or (key != "summary" and not value.strip()):
                file.problem((key,), "must be text")
            elif len(value) > limit:
                file.problem((key,), f"is {len(value)} characters; the design allows {limit}")
        layout = data.get("layout")
        if layout not in LAYOUTS:
            file.problem(("layout",), f"must be one of {', '.join(LAYOUTS)}{_close(str(layout), LAYOUTS)}")
        page_topics = self._topics(file, data.get("topics", []), ("topics",), topics)
        budget = data.get("budget")
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 0:
            file.problem(("budget",), "must be a whole number of blocks, 0 or more")
        slots = self._slots(file, data.get("blocks"), block_components)
        arrangements = self._arrangements(file, data.get("arrangements", []), slots)
        body = data.get("body")
        body_html = None
        if layout == "article":
            if not isinstance(body, str) or not body.strip():
                file.problem(("body",), "an article needs a markdown body")
            else:
                self._check_links(file, ("body",), body)
                body_html = markdown.render_block(body)
        elif body is not None:
            file.problem(("body",), f"only article pages have a body, this page's layout is {layout}")
        if file.problems:
            return None
        return Page(
            spec=PageSpec(path=path, slots=slots, budget=budget, arrangements=arrangements),
            title=data["title"],
            description=data["description"],
            layout=layout,
            topics=page_topics,
            summary=data.get("summary", ""),
            body_html=body_html,
            source=file.rel,
        )

    def _topics(self, file: _File, value: Any, key: yamlfile.PathKey, topics: tuple[str, ...]) -> tuple[str, ...]:
        if not isinstance(value, list):
            file.problem(key, "must be a list of topics")
            return ()
        for i, topic in enumerate(value):
            if topic not in topics:
                file.problem(
                    key + (i,),
                    f"unknown topic '{topic}'; topics are {', '.join(topics)}{_close(str(topic), topics)}",
                )
        return tuple(str(t) for t in value)

    def _slots(self, file: _File, value: Any, block_components: dict[str, tuple[str, str]]) -> tuple[Slot, ...]:
        if not isinstance(value, list):
            file.problem(("blocks",), "must be a list of blocks")
            return ()
        slots: list[Slot] = []
        for i, item in enumerate(value):
            key: yamlfile.PathKey = ("blocks", i)
            if not isinstance(item, dict):
                file.problem(key, "must be {block: <id>, component: <name>, pinned: true|false}")
                continue
            extra = set(item) - {"block", "component", "pinned", "topics"}
            for name in sorted(extra):
                file.problem(key + (name,), "is not a block setting (block, component, pinned, topics)")
            block, component = item.get("block"), item.get("component")
            named = isinstance(block, str) and bool(block)
            known = isinstance(component, str) and component in self.registry
            if not named:
                file.problem(key + ("block",), "needs a block id")
            if not known:
                file.problem(
                    key + ("component",),
                    f"unknown component '{component}'{_close(str(component), sorted(self.registry))}",
                )
            pinned = item.get("pinned", False)
            if not isinstance(pinned, bool):
                file.problem(key + ("pinned",), "must be true or false")
            slot_topics = self._topics(file, item.get("topics", []), key + ("topics",), self._topics_known)
            if not (named and known):
                continue
            if any(s.block == block for s in slots):
                file.problem(key + ("block",), f"block '{block}' is on this page twice")
            seen = block_components.setdefault(block, (component, file.rel))
            if seen[0] != component:
                file.problem(
                    key + ("component",),
                    f"block '{block}' is a {seen[0]} in {seen[1]}; one block id has one component",
                )
            slots.append(Slot(block=block, component=component, pinned=bool(pinned), topics=slot_topics))
        return tuple(slots)

    def _arrangements(self, file: _File, value: Any, slots: tuple[Slot, ...]) -> tuple[Arrangement, ...]:
        if not isinstance(value, list):
            file.problem(("arrangements",), "must be a list")
            return ()
        flexible = [s.block for s in slots if not s.pinned]
        found: list[Arrangement] = []
        for i, item in enumerate(value):
            key: yamlfile.PathKey = ("arrangements", i)
            shape = "must be {id: <name>, when: <condition>, order: [<block>, ...]}"
            if not isinstance(item, dict):
                file.problem(key, shape)
                continue
            if not isinstance(item.get("id"), str):
                file.problem(key, shape)
            for name in sorted(set(item) - {"id", "when", "order", "priority"}):
                file.problem(key + (name,), "is not an arrangement setting (id, when, order, priority)")
            order = item.get("order")
            if not isinstance(order, list) or not order:
                file.problem(key + ("order",), "must list the flexible blocks in their new order")
                order = []
            for j, block in enumerate(order):
                if block not in flexible:
                    file.problem(
                        key + ("order", j),
                        f"'{block}' is not a flexible block of this page (flexible: {', '.join(flexible) or 'none'})",
                    )
            rule = self._rule(file, item, key)
            if rule is not None and order and isinstance(item.get("id"), str):
                found.append(Arrangement(id=item["id"], order=tuple(order), rule=rule))
        found.sort(key=lambda a: precedence(a.rule, a.id))
        return tuple(found)

    # -------------------------------------------------------------- conditions

    def _rule(
        self,
        file: _File,
        data: Mapping[str, Any],
        key: yamlfile.PathKey,
        audience: Mapping[str, Any] | None = None,
        *,
        at: yamlfile.PathKey | None = None,
    ) -> Rule | None:
        """Check and compile ``when:``; with a named ``audience`` the rule is both (or the audience alone).

        ``at`` is where the condition is in the file (``key`` + ``when`` by default).
        """
        where_when = key + ("when",) if at is None else at
        condition = data.get("when")
        priority = data.get("priority", 0)
        before = len(file.problems)
        if not isinstance(priority, int) or isinstance(priority, bool):
            file.problem(key + ("priority",), "must be a whole number (higher wins)")
        if audience is not None and condition is None:
            return compile_rule(dict(audience), priority) if len(file.problems) == before else None
        if not isinstance(condition, dict) or not condition:
            file.problem(where_when, "must be a condition such as {device: mobile}")
            return None
        for where, message in check_condition(condition, self._kinds):
            file.problem(where_when + _split(where), message)
        self._check_values(file, condition, where_when)
        if len(file.problems) > before:
            return None
        # Only a condition without errors is worth a doubt.
        for where, message in warn_condition(condition):
            file.warn(where_when + _split(where), message)
        if audience is not None:
            condition = {"$and": [dict(audience), condition]}
        try:
            return compile_rule(condition, priority)
        except ConditionError as exc:
            file.problem(where_when + _split(exc.path), exc.message)
            return None

    def _check_values(self, file: _File, condition: Mapping[str, Any], key: yamlfile.PathKey) -> None:
        """Enumerated attributes (device, daypart) and topics only take their known values."""
        for path in referenced_attributes(condition):
            attribute = lookup(path)
            if attribute is None:
                continue
            if attribute.topical and attribute.name.endswith(".*"):
                topic = path.rsplit(".", 1)[1]
                if topic not in self._topics_known:
                    file.problem(
                        key + (path,),
                        f"'{topic}' is not a topic of this site; topics are "
                        f"{', '.join(self._topics_known)}{_close(topic, self._topics_known)}",
                    )
                continue
            allowed = self._topics_known if attribute.topical else attribute.values
            if not allowed:
                continue
            for value in _literals(condition, path):
                if isinstance(value, str) and value not in allowed:
                    file.problem(
                        key + (path,),
                        f"'{value}' is never a {path}; it is one of {', '.join(allowed)}{_close(value, allowed)}",
                    )

    # -------------------------------------------------------------- variants

    def _catalog(
        self,
        blocks: Mapping[str, str],
        topics: tuple[str, ...],
        problems: list[Problem],
        previous: Site | None,
    ) -> Catalog:
        previous_by_source: dict[str, Variant] = {}
        if previous is not None:
            for v in previous.catalog.defaults.values():
                previous_by_source[v.source] = v
            for vs in previous.catalog.conditional.values():
                for v in vs:
                    previous_by_source[v.source] = v
        defaults: dict[str, Variant] = {}
        conditional: dict[str, list[Variant]] = {}
        settings: dict[str, BlockSettings] = {}
        base = self.root / "content_variants"
        for folder in sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else ():
            block = folder.name
            served = block in blocks
            if served:
                component: Component | None = self.registry[blocks[block]]
            elif block in self._declared_blocks:
                # Its page is broken (and reported): its files are still checked, against
                # the component the page names if that is known, but nothing is served.
                name = self._declared_blocks[block]
                component = self.registry[name] if name is not None else None
            else:
                problems.append(
                    Problem(
                        self._rel(folder),
                        None,
                        "",
                        f"no page uses a block '{block}'{_close(block, sorted(blocks))}",
                    )
                )
                continue
            block_settings = self._block_settings(folder, problems)
            if served and block_settings is not None:
                settings[block] = block_settings
            learn = block_settings is not None and block_settings.strategy == "learn"
            for path in sorted(folder.glob("*")):
                rel = self._rel(path)
                if path.name == BLOCK_SETTINGS:
                    continue
                if path.suffix not in (".yaml", ".yml"):
                    problems.append(Problem(rel, None, "", "is not a .yaml file, so it is ignored"))
                    continue
                file = _File(path, rel)
                variant = self._variant(file, block, component, topics, learn=learn)
                problems.extend(file.problems + file.warnings)
                if not served:
                    continue
                if variant is None:
                    variant = previous_by_source.get(rel)
                    if variant is not None:
                        problems.append(Problem(rel, None, "", "the previous good version is still served"))
                if variant is None:
                    continue
                if variant.rule is None:
                    if block in defaults:
                        problems.append(
                            Problem(
                                rel,
                                None,
                                "when",
                                f"{defaults[block].source} is already the default of '{block}'; "
                                "every other variant needs a 'when:' condition",
                            )
                        )
                        continue
                    defaults[block] = variant
                else:
                    conditional.setdefault(block, []).append(variant)
        ordered = {
            block: tuple(sorted(vs, key=lambda v: precedence(v.rule, v.id)))  # type: ignore[arg-type]
            for block, vs in conditional.items()
        }
        return Catalog(defaults=defaults, conditional=ordered, settings=settings)

    def _block_settings(self, folder: Path, problems: list[Problem]) -> BlockSettings | None:
        """``_block.yaml``: the block's strategy (rules or learn), goal, segment keys and exploration floor."""
        path = folder / BLOCK_SETTINGS
        if not path.is_file():
            return None
        file = _File(path, self._rel(path))
        data = _read(file)
        if data is None:
            problems.extend(file.problems)
            return None
        known = ("strategy", "goal", "by", "explore", "priority")
        for key in data:
            if key not in known:
                file.problem((key,), f"is not a block setting{_close(str(key), known)}; they are {', '.join(known)}")
        strategy = data.get("strategy", "rules")
        if strategy not in STRATEGIES:
            file.problem(("strategy",), f"must be one of {', '.join(STRATEGIES)}{_close(str(strategy), STRATEGIES)}")
        goal = data.get("goal", "click")
        if goal not in GOALS:
            file.problem(
                ("goal",),
                f"must be click (a click on the block) or signup (a sign-up later in the same visit)"
                f"{_close(str(goal), GOALS)}",
            )
        by = data.get("by", [])
        if not isinstance(by, list) or not all(isinstance(k, str) for k in by):
            file.problem(("by",), "must be a list of segment keys, such as [device, daypart]")
            by = []
        for index, key in enumerate(by):
            if key not in SEGMENT_KEYS:
                file.problem(
                    ("by", index),
                    f"'{key}' is not a segment key{_close(key, list(SEGMENT_KEYS))}; "
                    f"they are {', '.join(SEGMENT_KEYS)}",
                )
        if len(set(by)) != len(by):
            file.problem(("by",), "names a key twice")
        explore = data.get("explore", 0.05)
        if isinstance(explore, bool) or not isinstance(explore, int | float) or not 0 <= explore <= MAX_EXPLORE:
            file.problem(
                ("explore",), f"must be a share from 0 to {MAX_EXPLORE}: the least each eligible version is shown"
            )
        priority = data.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            file.problem(("priority",), "must be a whole number: the block's rank for a place in the page's budget")
        if strategy != "learn" and any(k in data for k in ("by", "explore", "priority")):
            file.problem(("strategy",), "by, explore and priority apply to learning blocks only: add strategy: learn")
        problems.extend(file.problems)
        if file.problems:
            return None
        return BlockSettings(strategy=strategy, goal=goal, by=tuple(by), explore=float(explore), priority=priority)

    def _variant(
        self, file: _File, block: str, component: Component | None, topics: tuple[str, ...], *, learn: bool = False
    ) -> Variant | None:
        """Check a variant file; ``component`` None (its page names an unknown one) skips the fields."""
        data = _read(file)
        if data is None:
            return None
        variant_id = file.path.stem
        if not variant_id.replace("-", "").replace("_", "").isalnum():
            file.problem((), "a variant file name may use letters, digits, '-' and '_' only")
        fields: dict[str, Any] = {}
        if component is not None:
            for key in data:
                if key not in RESERVED and component.field(key) is None:
                    names = [f.name for f in component.fields] + list(RESERVED)
                    file.problem(
                        (key,),
                        f"is not a field of the {component.name} component{_close(key, names)}; "
                        f"its fields are {', '.join(f.name for f in component.fields)}",
                    )
            fields = self._fields(file, data, component.fields, ())
        variant_topics = self._topics(file, data.get("topics", []), ("topics",), topics)
        audience = self._audience(file, data.get("audience"))
        has_rule = "when" in data or "priority" in data or "audience" in data
        rule = self._rule(file, data, (), audience) if has_rule else None
        starts, ends = self._window(file, data, is_rule=has_rule)
        control = data.get("control")
        if control is not None:
            if learn:
                file.problem(("control",), "a learning block has no control groups: its allocation compares them all")
            elif "when" not in data:
                file.problem(("control",), "only a variant with a 'when:' condition is a rule with a control group")
            elif isinstance(control, bool) or not isinstance(control, int | float) or not 0 <= control < 1:
                file.problem(("control",), "must be a share from 0 (no control group) to below 1, such as 0.2")
        if file.problems or component is None:
            return None
        return Variant(
            block=block,
            id=variant_id,
            component=component.name,
            fields=fields,
            topics=variant_topics,
            rule=rule,
            source=file.rel,
            control=float(control) if control is not None else None,
            fingerprint=file.digest,
            starts=starts,
            ends=ends,
            audience=data.get("audience") if audience is not None else None,
        )

    # ------------------------------------------------------------- schedules

    def _window(
        self, file: _File, data: Mapping[str, Any], *, is_rule: bool
    ) -> tuple[datetime | None, datetime | None]:
        """``starts:`` and ``ends:``: ISO date-times (UTC, or with an offset) read as naive UTC."""
        found: dict[str, datetime | None] = {}
        for name in ("starts", "ends"):
            found[name] = None
            if name not in data:
                continue
            moment = _moment(data[name])
            if moment is None:
                file.problem((name,), "must be a date-time such as 2026-12-24T18:00:00Z or 2026-12-24T18:00:00+01:00")
                continue
            value, naive = moment
            if naive:
                file.warn((name,), "has no time zone, so it is read as UTC; add Z or an offset such as +01:00")
            found[name] = value
        starts, ends = found["starts"], found["ends"]
        if (starts is not None or ends is not None) and not is_rule:
            file.problem(
                ("starts" if starts is not None else "ends",),
                "the default variant is the fallback and is always a candidate; schedule another variant",
            )
        if starts is not None and ends is not None and starts >= ends:
            file.problem(("ends",), f"must be after starts ({starts:%Y-%m-%d %H:%M} UTC)")
        elif ends is not None and ends <= utcnow_naive():
            file.warn(("ends",), f"ended {ends:%Y-%m-%d %H:%M} UTC, so it is no longer a candidate")
        return starts, ends

    # ------------------------------------------------------------- audiences

    def _load_audiences(self, problems: list[Problem]) -> dict[str, Mapping[str, Any]]:
        """``content_variants/_audiences.yaml``: name -> condition, each checked like a ``when:``."""
        path = self.root / "content_variants" / AUDIENCES
        if not path.is_file():
            return {}
        file = _File(path, self._rel(path))
        data = _read(file)
        audiences: dict[str, Mapping[str, Any]] = {}
        if data is not None:
            for name, condition in data.items():
                if not name.replace("-", "").replace("_", "").isalnum():
                    file.problem((name,), "an audience name may use letters, digits, '-' and '_' only")
                    continue
                if self._rule(file, {"when": condition}, (), at=(name,)) is not None:
                    audiences[name] = condition
        problems.extend(file.problems)
        problems.extend(file.warnings)
        return audiences

    def _audience(self, file: _File, name: Any) -> Mapping[str, Any] | None:
        if name is None:
            return None
        if not isinstance(name, str) or name not in self._audiences:
            known = sorted(self._audiences)
            file.problem(
                ("audience",),
                f"'{name}' is not an audience in content_variants/{AUDIENCES}{_close(str(name), known)}"
                + (f"; they are {', '.join(known)}" if known else "; that file defines none"),
            )
            return None
        return self._audiences[name]

    def _fields(
        self, file: _File, data: Mapping[str, Any], schema: tuple[Field, ...], key: yamlfile.PathKey
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for spec in schema:
            value = data.get(spec.name)
            where = key + (spec.name,)
            if value is None or value == "":
                if spec.required:
                    file.problem(where, f"is required for the {spec.kind} slot '{spec.name}'")
                out[spec.name] = None
                continue
            out[spec.name] = self._value(file, spec, value, where)
        return out

    def _value(self, file: _File, spec: Field, value: Any, where: yamlfile.PathKey) -> Any:
        if spec.kind == "flag":
            if not isinstance(value, bool):
                file.problem(where, "must be true or false")
            return bool(value)
        if spec.kind in ("list", "strings"):
            if not isinstance(value, list):
                file.problem(where, "must be a list")
                return []
            if len(value) < spec.min_items:
                file.problem(where, f"has {len(value)} items; at least {spec.min_items} are needed")
            if spec.max_items is not None and len(value) > spec.max_items:
                file.problem(where, f"has {len(value)} items; the design holds at most {spec.max_items}")
            items: list[Any] = []
            for i, item in enumerate(value):
                if spec.kind == "strings":
                    items.append(self._text(file, spec, item, where + (i,)))
                elif not isinstance(item, dict):
                    file.problem(where + (i,), f"must be a record with {', '.join(f.name for f in spec.items)}")
                else:
                    for extra in item:
                        if all(f.name != extra for f in spec.items):
                            file.problem(
                                where + (i, extra),
                                f"is not a field here{_close(str(extra), [f.name for f in spec.items])}; "
                                f"the fields are {', '.join(f.name for f in spec.items)}",
                            )
                    items.append(self._fields(file, item, spec.items, where + (i,)))
            return items
        if spec.kind == "choice":
            if value not in spec.choices:
                file.problem(where, f"must be one of {', '.join(spec.choices)}")
            return value
        text = self._text(file, spec, value, where)
        if spec.kind == "link":
            if not markdown.is_safe_link(text):
                file.problem(where, f"'{text}' is not an allowed link: use https://, mailto: or a path on this site")
            else:
                self._check_internal(file, where, text)
            return text
        if spec.kind == "markdown":
            self._check_links(file, where, text)
            return markdown.render_inline(text)
        return text

    def _text(self, file: _File, spec: Field, value: Any, where: yamlfile.PathKey) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            file.problem(where, "must be text")
            return ""
        text = str(value).strip()
        if spec.max_length is not None and len(text) > spec.max_length:
            file.problem(where, f"is {len(text)} characters; the design holds at most {spec.max_length}")
        return text

    def _check_links(self, file: _File, where: yamlfile.PathKey, text: str) -> None:
        for target in markdown.links_in(text):
            if not markdown.is_safe_link(target):
                file.problem(where, f"the link '{target}' is not allowed: use https://, mailto: or a path on this site")
            else:
                self._check_internal(file, where, target)

    def _check_internal(self, file: _File, where: yamlfile.PathKey, target: str) -> None:
        if target.startswith("/"):
            path = target.split("#", 1)[0].split("?", 1)[0] or "/"
            if path not in self._page_paths and path not in _APP_PATHS:
                file.problem(
                    where,
                    f"links to '{path}', which is not a page of this site{_close(path, sorted(self._page_paths))}",
                )


#: Paths served by the app itself rather than declared in pages/.
_APP_PATHS = {"/preferences", "/preferences/export"}


def utcnow_naive() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _moment(value: Any) -> tuple[datetime, bool] | None:
    """A date-time from YAML (a timestamp, a date, or text) as (naive UTC, whether it had no zone)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value, True
        return value.astimezone(UTC).replace(tzinfo=None), False
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day), False  # a whole day, from midnight UTC
    return None


def _split(where: str) -> tuple[str | int, ...]:
    """Turn a checker path like ``$and[0].device.$in`` into key parts."""
    parts: list[str | int] = []
    for piece in where.replace("]", "").split("."):
        if not piece:
            continue
        head, *indexes = piece.split("[")
        if head:
            parts.append(head)
        parts.extend(int(i) for i in indexes if i.isdigit())
    return tuple(parts)


def _literals(condition: Any, path: str) -> list[Any]:
    """Values compared with attribute ``path`` anywhere in ``condition``."""
    found: list[Any] = []
    if isinstance(condition, dict):
        for key, value in condition.items():
            if key == path:
                if isinstance(value, dict) and any(str(k).startswith("$") for k in value):
                    for op, arg in value.items():
                        if op in ("$eq", "$ne"):
                            found.append(arg)
                        elif op in ("$in", "$nin") and isinstance(arg, list):
                            found.extend(arg)
                else:
                    found.append(value)
            elif key in ("$and", "$or", "$nor") and isinstance(value, list):
                for sub in value:
                    found.extend(_literals(sub, path))
            elif key == "$not":
                found.extend(_literals(value, path))
    return found
