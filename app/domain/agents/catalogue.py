"""The agent catalogue: agents/<name>.toml, one AgentConfig each, checked file by file and as one tree."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from app.domain.errors import NotFound, PasError
from config.settings import ROOT
from contracts.agents import BUDGETS, AgentConfig, AgentRole

DEFAULT_DIR = ROOT / "agents"
ROOT_AGENT = "architect"
# What PAS ships (API-CONTRACT §11): 42 = 7 coord + 16 system + 19 exec.
SHIPPED_COUNTS: Mapping[str, int] = {"coord": 7, "system": 16, "exec": 19}
# The clients discover each role with these limits, so a role larger than its limit would hide agents.
ROLE_LIMITS: Mapping[str, int] = {"coord": 20, "exec": 30, "system": 30}


class CatalogueError(PasError):
    """A catalogue file or the tree is wrong; the message names the file and the field."""

    code = "catalogue_error"

    def __init__(self, detail: str, *, file: Path | None = None, field: str | None = None) -> None:
        where = f"{_show(file)}: " if file else ""
        what = f"{field}: " if field else ""
        super().__init__(f"{where}{what}{detail}", field=field)
        self.file = file


def _show(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Catalogue:
    """The agents in discovery order (tier, then name), and the file each came from."""

    agents: dict[str, AgentConfig]
    files: dict[str, Path]
    directory: Path

    def get(self, name: str) -> AgentConfig:
        try:
            return self.agents[name]
        except KeyError:
            raise NotFound(f"agent {name!r} is not in the catalogue", field="agent_name") from None

    def children_of(self, name: str) -> list[AgentConfig]:
        return [self.agents[c] for c in self.get(name).children]

    def parent_of(self, name: str) -> AgentConfig | None:
        parent = self.get(name).parent
        return None if parent is None else self.agents[parent]

    def by_role(self, role: AgentRole) -> list[AgentConfig]:
        return [a for a in self.agents.values() if a.agent_role == role]

    @property
    def root(self) -> AgentConfig:
        return self.agents[ROOT_AGENT]

    def __len__(self) -> int:
        return len(self.agents)


def load_catalogue(path: Path | None = None, *, counts: Mapping[str, int] | None = SHIPPED_COUNTS) -> Catalogue:
    """Every agents/*.toml validated, then the tree; `counts=None` skips the shipped 7/16/19 (other catalogues)."""
    directory = path or DEFAULT_DIR
    if not directory.is_dir():
        raise CatalogueError("the catalogue folder does not exist", file=directory)
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise CatalogueError("no agent files (*.toml) in the catalogue folder", file=directory)
    loaded: dict[str, AgentConfig] = {}
    sources: dict[str, Path] = {}
    for file in files:
        agent = load_agent(file)
        if agent.name in loaded:
            raise CatalogueError(f"agent {agent.name!r} is also defined in {_show(sources[agent.name])}",
                                 file=file, field="name")  # fmt: skip
        loaded[agent.name] = agent
        sources[agent.name] = file
    _check_tree(loaded, sources)
    _check_roles(loaded, sources, counts)
    order = sorted(loaded, key=lambda n: (loaded[n].tier, n))
    return Catalogue({n: loaded[n] for n in order}, {n: sources[n] for n in order}, directory)


def load_agent(file: Path) -> AgentConfig:
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"cannot read the file: {exc}", file=file) from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"invalid TOML: {exc}", file=file) from None
    try:
        agent = AgentConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_input=False)
        field = ".".join(str(p) for p in first[0]["loc"]) or None
        rest = f" (and {len(first) - 1} more)" if len(first) > 1 else ""
        raise CatalogueError(f"{first[0]['msg']}{rest}", file=file, field=field) from None
    if file.stem != agent.name:
        raise CatalogueError(f"the file must be named {agent.name}.toml", file=file, field="name")
    return agent


def _check_tree(agents: Mapping[str, AgentConfig], files: Mapping[str, Path]) -> None:
    roots = [a.name for a in agents.values() if a.parent is None]
    if roots != [ROOT_AGENT]:
        culprit = next((r for r in roots if r != ROOT_AGENT), ROOT_AGENT)
        raise CatalogueError(
            f"the catalogue is one tree rooted at {ROOT_AGENT!r}; agents without a parent: {roots or 'none'}",
            file=files.get(culprit), field="parent",
        )  # fmt: skip
    for agent in agents.values():
        file = files[agent.name]
        if agent.parent is not None:
            parent = agents.get(agent.parent)
            if parent is None:
                raise CatalogueError(f"parent {agent.parent!r} is not in the catalogue", file=file, field="parent")
            if agent.name not in parent.children:
                raise CatalogueError(f"{agent.parent!r} does not list {agent.name!r} among its children",
                                     file=files[agent.parent], field="children")  # fmt: skip
        for child in agent.children:
            if child not in agents:
                raise CatalogueError(f"child {child!r} is not in the catalogue", file=file, field="children")
            if agents[child].parent != agent.name:
                raise CatalogueError(f"parent is {agents[child].parent!r}, but {agent.name!r} lists it as a child",
                                     file=files[child], field="parent")  # fmt: skip
    # Walk down from the root: every agent once (no cycle hangs off the tree), and its tier is its depth.
    seen: set[str] = set()
    level, depth = [ROOT_AGENT], 1
    while level:
        nxt: list[str] = []
        for name in level:
            seen.add(name)
            if agents[name].tier != depth:
                raise CatalogueError(f"tier {agents[name].tier}, but the agent is at depth {depth} of the tree",
                                     file=files[name], field="tier")  # fmt: skip
            nxt += [c for c in agents[name].children if c not in seen]
        level, depth = nxt, depth + 1
    unreached = sorted(set(agents) - seen)
    if unreached:
        raise CatalogueError("not reachable from the root: its parents form a cycle",
                             file=files[unreached[0]], field="parent")  # fmt: skip


def _check_roles(
    agents: Mapping[str, AgentConfig], files: Mapping[str, Path], counts: Mapping[str, int] | None
) -> None:
    for agent in agents.values():
        file = files[agent.name]
        if agent.agent_role != "coord" and agent.children:
            raise CatalogueError("only coordinators have children", file=file, field="children")
        if (agent.agent_role == "coord") != (agent.budget_class == "coordinator"):
            raise CatalogueError("coordinators, and only they, have the coordinator budget",
                                 file=file, field="budget_class")  # fmt: skip
        target, hard = BUDGETS[agent.budget_class]
        if (agent.token_target, agent.token_hard_max) != (target, hard):
            raise CatalogueError(f"the {agent.budget_class!r} budget is {target}/{hard}",
                                 file=file, field="token_target")  # fmt: skip
        if agent.budget_class == "trainer" and agent.resources.gpu < 1:
            raise CatalogueError("a trainer reserves a GPU", file=file, field="resources.gpu")
    root = agents[ROOT_AGENT]
    if "planning" not in root.capabilities:
        raise CatalogueError("the architect has the capability 'planning'", file=files[ROOT_AGENT],
                             field="capabilities")  # fmt: skip
    found = {role: sum(a.agent_role == role for a in agents.values()) for role in ROLE_LIMITS}
    for role, limit in ROLE_LIMITS.items():
        if found[role] > limit:
            raise CatalogueError(f"{found[role]} {role} agents; the clients discover at most {limit}",
                                 file=files[ROOT_AGENT].parent, field="agent_role")  # fmt: skip
    if counts is not None and found != dict(counts):
        raise CatalogueError(f"the catalogue has {found}, expected {dict(counts)}",
                             file=files[ROOT_AGENT].parent, field="agent_role")  # fmt: skip
