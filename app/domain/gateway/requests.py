"""The gateway's three ways in (/route, /invoke, the OpenAI /v1 surface) → one Ask for the router, and a
call's receipt → the /route answer."""

from __future__ import annotations

from app.domain.errors import NotFound, PasError
from app.domain.gateway.calls import CallMeta, CallResult
from app.domain.gateway.service import Gateway
from app.domain.ids import new_id
from app.domain.provider_router.routing import Ask
from app.domain.provider_router.service import ProviderRouter
from contracts.gateway import InvokeRequest, ModelEntry, ModelList, RouteCost, RouteRequest, RouteResponse
from contracts.provider_router import Candidate


def route_ask(req: RouteRequest, router: ProviderRouter) -> Ask:
    r, budget = req.requirements, req.budget
    return Ask(
        model=r.model, capability=r.capability, provider=r.provider, context_tokens=r.context_window,
        features=frozenset(r.features), optimization=req.optimization,
        max_cost_usd=budget.max_cost_usd if budget else None,
        max_latency_ms=budget.max_latency_ms if budget else None, sla_ms_p95=router.policy_sla_ms,
    )  # fmt: skip


def invoke_ask(req: InvokeRequest, router: ProviderRouter) -> Ask:
    t, policy = req.target, req.policy
    kind = router.name_kind(t.name) if t.name is not None else None
    return Ask(
        provider=t.name if kind == "provider" else None,
        model=t.name if t.name is not None and kind != "provider" else None,  # unknown: no provider, 404
        capabilities=frozenset(t.require_caps),
        optimization=policy.prefer,
        max_cost_usd=policy.max_cost_usd,
        sla_ms_p95=policy.sla_ms_p95 if policy.sla_ms_p95 is not None else router.policy_sla_ms,
    )


def chat_ask(model: str, prompt_tokens: int, router: ProviderRouter) -> Ask:
    """`model` names a provider, a model or a capability, tried in that order."""
    kind = router.name_kind(model)
    if kind is None:
        raise NotFound(f"model {model!r} names no provider, model or capability", field="model")
    return Ask(
        provider=model if kind == "provider" else None,
        model=model if kind == "model" else None,
        capability=model if kind == "capability" else None,
        context_tokens=prompt_tokens,
        sla_ms_p95=router.policy_sla_ms,
        optimization=router.default_policy,
    )


def route_answer(result: CallResult, request_id: str, run_id: str | None) -> RouteResponse:
    r = result.receipt
    return RouteResponse(
        request_id=request_id,
        run_id=run_id,
        status="success",
        provider=r["provider"],
        model=r["model"],
        response=result.response,
        cost=RouteCost(
            input_tokens=r["input_tokens"],
            output_tokens=r["output_tokens"],
            cost_usd=r["cost_usd"],
            latency_ms=r["latency_ms"],
        ),
        alternatives=[Candidate.model_validate(c) for c in r["candidates"][1:]],
        dry_run=r["dry_run"],
        receipt_id=r["receipt_id"],
        timestamp=r["timestamp"],
    )


def model_list(router: ProviderRouter, created: int) -> ModelList:
    """Every name `model` may take: providers, then their models, then capabilities."""
    data: list[ModelEntry] = []
    seen: set[str] = set()
    providers = [p for p in router.models() if p.active]
    named = [(p.name, f"pas:{p.source}") for p in providers] + [(p.model, "pas:model") for p in providers]
    named += [(c, "pas:capability") for c in sorted({c for p in providers for c in p.capabilities})]
    for name, owner in named:
        if name not in seen:
            seen.add(name)
            data.append(ModelEntry(id=name, created=created, owned_by=owner))
    return ModelList(data=data)


def _answer(gateway: Gateway, ask: Ask, req: RouteRequest | InvokeRequest, meta: CallMeta) -> RouteResponse:
    try:
        return route_answer(gateway.call(ask, req.payload, meta), meta.request_id, meta.run_id)
    except PasError as exc:
        exc.extra.setdefault("request_id", meta.request_id)  # the user's clients match errors by request_id
        raise


def route(gateway: Gateway, req: RouteRequest, hops: int = 0) -> RouteResponse:
    meta = CallMeta(req.request_id, req.run_id, req.agent, req.timeout_s, hops=hops)
    return _answer(gateway, route_ask(req, gateway.router), req, meta)


def invoke(gateway: Gateway, req: InvokeRequest, hops: int = 0) -> RouteResponse:
    meta = CallMeta(req.request_id or new_id(), req.run_id, req.agent or "invoke", req.policy.timeout_s, hops=hops)
    return _answer(gateway, invoke_ask(req, gateway.router), req, meta)
