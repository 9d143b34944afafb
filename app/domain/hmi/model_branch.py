"""The tree's "models" branch: every type "model" record (the local GGUF models, the vendor adapters) under one
synthetic root-level node, grouped by labels.provider ("local" first, then the vendors by name). Models never
hang under an agent: they serve everyone."""

from __future__ import annotations

from app.domain.registry.service import HEALTHY
from contracts.hmi import TreeNode
from contracts.registry import ServiceRecord

BRANCH = "models"
LOCAL = "local"
UNKNOWN = "unknown"  # a model registered without a string labels.provider


def health(status: str | None) -> str:
    """ok, degraded or down: what a model's (or a group's) colour means."""
    if status == "down":
        return "down"
    return "ok" if status in HEALTHY else "degraded"  # DEGRADED, and anything a newer PAS adds


def worst(statuses: list[str | None]) -> str:
    """A group's status: its worst member's (down > degraded > ok)."""
    levels = {health(s) for s in statuses}
    return "down" if "down" in levels else "degraded" if "degraded" in levels else "ok"


def provider_of(r: ServiceRecord) -> str:
    provider = (r.labels or {}).get("provider")
    return provider if isinstance(provider, str) and provider else UNKNOWN


def model_node(r: ServiceRecord) -> TreeNode:
    labels = r.labels or {}
    return TreeNode.model_construct(
        name=r.name, service_id=r.service_id, status=r.status, last_heartbeat=r.last_heartbeat_ts, type=r.type,
        port=labels.get("port"), agent_role=None, tier=None, display_name=labels.get("display_name"),
        ctx_ratio=None, tokens=None, cost_usd=None, runs=None, group=None,
        provider=provider_of(r), model=labels.get("model"), caps=list(r.caps),
        # the message says why while it is not ok (a model's last "ok" beat does not clear an old one)
        reason=r.message if r.status not in HEALTHY else None,
        children=[],
    )  # fmt: skip


def _group(name: str, group: str, provider: str | None, children: list[TreeNode]) -> TreeNode:
    return TreeNode.model_construct(
        name=name, service_id=None, status=worst([c.status for c in children]), last_heartbeat=None, type=None,
        port=None, agent_role=None, tier=None, display_name=None, ctx_ratio=None, tokens=None, cost_usd=None,
        runs=None, group=group, provider=provider, model=None, caps=None, reason=None, children=children,
    )  # fmt: skip


def model_branch(records: list[ServiceRecord]) -> TreeNode | None:
    """The branch, or None when no model is registered (the tree stays as it was)."""
    by_provider: dict[str, list[TreeNode]] = {}
    for r in records:
        by_provider.setdefault(provider_of(r), []).append(model_node(r))
    if not by_provider:
        return None
    order = sorted(by_provider, key=lambda p: (p != LOCAL, p))
    groups = [_group(p, f"{BRANCH}/{p}", p, by_provider[p]) for p in order]
    return _group(BRANCH, BRANCH, None, groups)
