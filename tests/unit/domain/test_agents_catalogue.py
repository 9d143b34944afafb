"""The shipped catalogue (agents/): counts, one tree, budgets by class; and a bad file is named with its field."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from app.domain.agents.catalogue import DEFAULT_DIR, Catalogue, CatalogueError, load_agent, load_catalogue
from app.domain.errors import NotFound
from contracts.agents import AGENT_NAME
from tests.support import ROOT

TRAINERS = {"qtower-trainer", "reranker-trainer", "directional-adapter-fitter"}
COORDINATORS = ["architect", "director-code", "director-models", "director-data", "director-devsecops",
                "director-docs", "manager"]  # fmt: skip


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue()


def test_the_shipped_counts_are_7_coord_16_system_19_exec(catalogue: Catalogue) -> None:
    assert len(catalogue) == 42
    assert Counter(a.agent_role for a in catalogue.agents.values()) == {"coord": 7, "system": 16, "exec": 19}
    assert sorted(a.name for a in catalogue.by_role("coord")) == sorted(COORDINATORS)
    assert len(list(DEFAULT_DIR.glob("*.toml"))) == 42


def test_one_tree_rooted_at_the_architect(catalogue: Catalogue) -> None:
    root = catalogue.get("architect")
    assert (root.parent, root.tier, root.agent_role) == (None, 1, "coord")
    assert "planning" in root.capabilities
    assert catalogue.parent_of("architect") is None
    assert [a.name for a in catalogue.children_of("architect")] == COORDINATORS[1:]
    for agent in catalogue.agents.values():
        for child in catalogue.children_of(agent.name):
            assert catalogue.parent_of(child.name) == agent
            assert child.tier == agent.tier + 1
        if agent.parent is not None:
            parent = catalogue.parent_of(agent.name)
            assert parent is not None and agent.name in parent.children
            assert parent.agent_role == "coord", f"{agent.name} hangs under a non-coordinator"
    # Every agent is reached from the root exactly once.
    seen, todo = [], ["architect"]
    while todo:
        seen.append(todo.pop())
        todo += catalogue.agents[seen[-1]].children
    assert sorted(seen) == sorted(catalogue.agents)


def test_budgets_by_class(catalogue: Catalogue) -> None:
    for agent in catalogue.agents.values():
        budget = (agent.token_target, agent.token_hard_max)
        assert agent.token_target < agent.token_hard_max
        if agent.agent_role == "coord":
            assert budget == (0.50, 0.75), agent.name
        elif agent.name in TRAINERS:
            assert (agent.budget_class, budget) == ("trainer", (0.40, 0.70)), agent.name
            assert agent.resources.gpu >= 1, agent.name
        else:
            assert budget in {(0.30, 0.50), (0.20, 0.40)}, agent.name
    standard = sum(a.budget_class == "standard" for a in catalogue.agents.values())
    light = sum(a.budget_class == "light" for a in catalogue.agents.values())
    assert standard > light > 0  # "most executors" are standard


def test_names_are_unique_lowercase_hyphen_and_match_their_file(catalogue: Catalogue) -> None:
    names = [p.stem for p in DEFAULT_DIR.glob("*.toml")]
    assert len(set(names)) == len(names) == len(catalogue)
    for name, agent in catalogue.agents.items():
        assert re.fullmatch(AGENT_NAME, name) and agent.name == name
        assert catalogue.files[name] == DEFAULT_DIR / f"{name}.toml"


def test_order_is_tier_then_name(catalogue: Catalogue) -> None:
    names = list(catalogue.agents)
    assert names == sorted(names, key=lambda n: (catalogue.agents[n].tier, n))


@pytest.mark.parametrize("path", sorted(DEFAULT_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_every_file_validates_and_says_how_it_reports(path: Path) -> None:
    agent = load_agent(path)
    prompt = agent.system_prompt
    assert agent.name in prompt and "STATUS:" in prompt and "PAS" in prompt
    assert ("You report to the user" in prompt) if agent.parent is None else (f"`{agent.parent}`" in prompt)
    assert agent.description.startswith("Use ")


def test_unknown_agent_is_not_found(catalogue: Catalogue) -> None:
    with pytest.raises(NotFound, match="'nobody'"):
        catalogue.get("nobody")


# --- bad catalogues: each error names the file and the field


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(DEFAULT_DIR, tmp_path / "agents")
    return tmp_path / "agents"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def fails(directory: Path, *parts: str, counts: bool = True) -> str:
    with pytest.raises(CatalogueError) as info:
        load_catalogue(directory) if counts else load_catalogue(directory, counts=None)
    message = str(info.value)
    for part in parts:
        assert part in message, message
    return message


def test_invalid_toml_names_the_file(copy: Path) -> None:
    (copy / "gateway.toml").write_text('name = "gateway"\ntier = \n')
    fails(copy, "gateway.toml", "invalid TOML")


def test_a_wrong_type_names_the_file_and_the_nested_field(copy: Path) -> None:
    edit(copy / "qtower-trainer.toml", "cpu = 4.0", 'cpu = "four"')
    fails(copy, "qtower-trainer.toml", "resources.cpu")


def test_an_unknown_tool_names_the_element(copy: Path) -> None:
    edit(copy / "registry.toml", 'rights = ["Read",', 'rights = ["Teleport",')
    fails(copy, "registry.toml", "rights.0", "Bash")  # the allowed names are listed


def test_a_missing_field_is_named(copy: Path) -> None:
    text = (copy / "manager.toml").read_text()
    (copy / "manager.toml").write_text(re.sub(r"(?m)^claude_model = .*\n", "", text))
    fails(copy, "manager.toml", "claude_model", "Field required")


def test_an_unknown_field_is_refused(copy: Path) -> None:
    edit(copy / "manager.toml", "tier = 2", "tier = 2\ncolour = 'blue'")
    fails(copy, "manager.toml", "colour")


def test_the_file_name_must_be_the_agent_name(copy: Path) -> None:
    (copy / "gateway.toml").rename(copy / "gateway-steward.toml")
    fails(copy, "gateway-steward.toml", "name", "gateway.toml")


def test_a_child_its_parent_does_not_list(copy: Path) -> None:
    edit(copy / "director-docs.toml", '"knowledge-base-manager", ', "")
    fails(copy, "director-docs.toml", "children", "'knowledge-base-manager'")


def test_a_child_that_names_another_parent(copy: Path) -> None:
    edit(copy / "knowledge-base-manager.toml", 'parent = "director-docs"', 'parent = "director-code"')
    fails(copy, "parent")


def test_a_parent_that_does_not_exist(copy: Path) -> None:
    edit(copy / "gateway.toml", 'parent = "director-models"', 'parent = "director-nobody"')
    fails(copy, "gateway.toml", "parent", "'director-nobody'")


def test_two_roots(copy: Path) -> None:
    edit(copy / "director-docs.toml", 'parent = "architect"\n', "")
    edit(copy / "architect.toml", '"director-docs", ', "")
    fails(copy, "director-docs.toml", "parent", "one tree")


def test_a_cycle_off_the_tree(copy: Path) -> None:
    # director-docs and knowledge-base-manager become each other's parent, detached from the architect.
    edit(copy / "architect.toml", '"director-docs", ', "")
    edit(copy / "director-docs.toml", 'parent = "architect"', 'parent = "knowledge-base-manager"')
    edit(copy / "knowledge-base-manager.toml", "children = []", 'children = ["director-docs"]')
    edit(copy / "knowledge-base-manager.toml", 'agent_role = "system"', 'agent_role = "coord"')
    edit(copy / "knowledge-base-manager.toml", 'budget_class = "light"', 'budget_class = "coordinator"')
    edit(copy / "knowledge-base-manager.toml", "token_target = 0.20", "token_target = 0.50")
    edit(copy / "knowledge-base-manager.toml", "token_hard_max = 0.40", "token_hard_max = 0.75")
    fails(copy, "parent", "cycle", counts=False)


def test_a_tier_that_is_not_the_depth(copy: Path) -> None:
    edit(copy / "gateway.toml", "tier = 3", "tier = 2")
    fails(copy, "gateway.toml", "tier", "depth 3")


def test_a_budget_off_its_class(copy: Path) -> None:
    edit(copy / "embed-indexer.toml", "token_target = 0.30", "token_target = 0.35")
    fails(copy, "embed-indexer.toml", "token_target", "0.3/0.5")


def test_a_target_above_the_hard_max(copy: Path) -> None:
    edit(copy / "embed-indexer.toml", "token_target = 0.30", "token_target = 0.60")
    fails(copy, "embed-indexer.toml", "token_target", "below token_hard_max")


def test_an_executor_with_children(copy: Path) -> None:
    edit(copy / "corpus-auditor.toml", "children = []", 'children = ["cleaner-normalizer"]')
    edit(copy / "cleaner-normalizer.toml", 'parent = "director-data"', 'parent = "corpus-auditor"')
    edit(copy / "director-data.toml", '"cleaner-normalizer", ', "")
    edit(copy / "cleaner-normalizer.toml", "tier = 3", "tier = 4")
    fails(copy, "corpus-auditor.toml", "children", "only coordinators")


def test_counts_are_the_shipped_ones_unless_waived(copy: Path) -> None:
    (copy / "documentation-generator.toml").unlink()
    edit(copy / "director-docs.toml", ', "documentation-generator"', "")
    fails(copy, "agent_role", "'exec': 18", "'exec': 19")
    assert len(load_catalogue(copy, counts=None)) == 41


def test_the_loader_imports_no_flask() -> None:
    code = (
        "import sys, app.domain.agents.catalogue, app.domain.agents.claude_code, app.domain.agents.registration;"
        "bad = [m for m in ('flask', 'celery', 'flask_socketio') if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
