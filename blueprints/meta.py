"""What every port serves besides its service: GET /, /openapi.json, /docs; and PAS-wide /health on the
main port. Services whose issue is not built yet answer 501 JSON on their ports and prefixes."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request, url_for
from offapi import OpenAPITemplate
from pydantic import BaseModel

from app.dispatch import LEGACY_PORT
from app.domain.errors import NotImplementedYet
from app.http_hooks import MUTATING
from blueprints._http import DocInfo, api, respond, svc
from config.ports import SERVICES, ServicePort
from contracts.common import ErrorBody, ServiceIndex

VERSION = "0.1.0"
BUILT = {
    "registry", "heartbeat-monitor", "resource-manager", "token-governor", "event-stream", "hmi", "provider-router",
    "gateway", "agent-router", "models/llama31-8b", "models/tinyllama-1b", "models/tlc-classifier",
    "adapters/openai", "adapters/anthropic", "adapters/gemini", "adapters/grok",
}  # fmt: skip
# Services whose GET / is their own (the model services' contract shape), not the generic index below.
OWN_INDEX = ("hmi", "adapters/")

bp = Blueprint("meta", __name__)


def _json(body: Any, status: int = 200) -> Response:
    return current_app.response_class(
        json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json"
    )


def full_spec() -> dict[str, Any]:
    """The OpenAPI document of the running app (built once per app): spectree's, made to say what this server does
    in its mode — see describe_mode()."""
    spec: dict[str, Any] | None = current_app.extensions.get("pas_openapi")
    if spec is None:
        settings = current_app.extensions["settings"]
        spec = current_app.extensions["pas_openapi"] = describe_mode(
            copy.deepcopy(api.spec), current_app, secured=settings.pas_api_token is not None
        )
    return spec


FRONT_DOOR = {
    "414": "URI Too Long: the request line is over gunicorn's limit (4094 bytes)",
    "431": "Request Header Fields Too Large: a header is over gunicorn's limit",
}


# OpenAPI links: which answer's field names the resource a later operation takes in its path (clients and the fuzz's
# stateful phase follow them). (operation, status) → {link name: (target operationId, {parameter: expression})}.
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, dict[str, str]]]] = {
    ("post", "/jobs", "201"): {
        "GetJob": ("get__jobs_{job_id}", {"job_id": "$response.body#/job_id"}),
        "KillJob": ("post__jobs_{job_id}_kill", {"job_id": "$response.body#/job_id"}),
    },
    ("post", "/api/registry/register", "201"): {
        "GetService": ("get__api_registry_services_{service_id}", {"service_id": "$response.body#/service_id"}),
    },
    ("post", "/api/provider-router/register", "201"): {
        "GetProvider": ("get__api_provider-router_providers_{name}", {"name": "$response.body#/provider/name"}),
        "DeleteProvider": ("delete__api_provider-router_providers_{name}", {"name": "$response.body#/provider/name"}),
    },
}


def _add_links(spec: dict[str, Any]) -> None:
    ids = {op.get("operationId") for ops in spec["paths"].values() for op in ops.values()}
    for (method, path, status), links in LINKS.items():
        response = spec["paths"].get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        response["links"] = {
            name: {"operationId": target, "parameters": params}
            for name, (target, params) in links.items()
            if target in ids  # a route renamed or gone drops its link, never a dangling one
        }


def _path(rule: str) -> str:
    """A Flask rule as spectree writes it: /services/<path:service_id> → /services/{service_id}."""
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def _json_ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{api.naming_strategy(model)}"}}}


def describe_mode(spec: dict[str, Any], app: Flask, *, secured: bool) -> dict[str, Any]:
    """What spectree cannot know: with PAS_API_TOKEN set, every POST/PUT/PATCH/DELETE (app/http_hooks.py's guard)
    needs the bearer token and may answer 401 (with WWW-Authenticate); without it nothing does, and the document
    declares no scheme at all. Bodies parse_optional() reads are optional; fields that may come from the query or
    the body are optional in both; no view here answers spectree's own 422 (path parameters are not validated:
    an unknown id is a 404)."""
    spec.pop("security", None)
    spec["components"].pop("securitySchemes", None)
    _add_links(spec)
    if secured:
        spec["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    for rule in app.url_map.iter_rules():
        info: DocInfo | None = getattr(app.view_functions[rule.endpoint], "pas_doc", None)
        ops = spec["paths"].get(_path(rule.rule), {})
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op = ops.get(method.lower())
            if info is None or op is None:
                continue
            responses = op["responses"]
            for code, what in FRONT_DOOR.items():  # gunicorn answers these before PAS sees the request
                responses.setdefault(code, {"description": what, "content": _json_ref(ErrorBody)})
            if "ValidationError" in json.dumps(responses.get("422", {})):
                del responses["422"]
            if info.body_optional and "requestBody" in op:
                op["requestBody"]["required"] = False
            if info.query is not None:
                for param in op.get("parameters", []):
                    if param.get("in") == "query":
                        param["required"] = False
            if secured and method in MUTATING:
                op["security"] = [{"bearer": []}]
                responses["401"] = {
                    "description": "Unauthorized: a valid `Authorization: Bearer <PAS_API_TOKEN>` header is required",
                    "headers": {
                        "WWW-Authenticate": {"required": True, "schema": {"type": "string", "const": "Bearer"}}
                    },
                    "content": _json_ref(info.errors),
                }
    return spec


def service_spec(service: ServicePort) -> dict[str, Any]:
    """The service's part of the document, with paths as its legacy port serves them."""
    spec = copy.deepcopy(full_spec())
    spec["paths"] = {
        path[len(service.prefix) :] or "/": ops
        for path, ops in spec["paths"].items()
        if path.startswith(service.prefix + "/")
    }
    spec["info"]["title"] = service.title
    spec["tags"] = [t for t in spec.get("tags", []) if t["name"] == service.slug]
    return spec


def docs_page(spec_url: str) -> Response:
    # offapi inlines Swagger UI, so the page works with no internet.
    return current_app.response_class(OpenAPITemplate.SWAGGER.value.format(spec_url=spec_url), mimetype="text/html")


def _port_of(service: ServicePort) -> int:
    return int(request.environ.get(LEGACY_PORT) or service.port)


def _on_legacy_port() -> bool:
    return request.environ.get(LEGACY_PORT) is not None


def register_service_meta(app: Flask) -> None:
    """GET /, /openapi.json and /docs for every service; a 501 catch-all for the ones not built yet."""
    for service in SERVICES:
        slug, prefix = service.slug, service.prefix

        def index(service: ServicePort = service) -> Response:
            prefix = "" if _on_legacy_port() else service.prefix
            endpoints = sorted(
                {
                    (prefix + str(rule)[len(service.prefix) :]) or "/"
                    for rule in current_app.url_map.iter_rules()
                    if str(rule).startswith(service.prefix + "/") and "<path:rest>" not in str(rule)
                }
            )
            built = service.slug in BUILT
            body = ServiceIndex(
                service=service.name,
                version=VERSION,
                port=_port_of(service),
                status="ok" if built else "not_implemented",
                endpoints=endpoints,
                docs=f"{prefix}/docs",
            )
            return respond(body)

        def spec(service: ServicePort = service) -> Response:
            return _json(service_spec(service))

        def docs(service: ServicePort = service) -> Response:
            return docs_page(("" if _on_legacy_port() else service.prefix) + "/openapi.json")

        name = slug.replace("/", "_").replace("-", "_")
        if not slug.startswith(OWN_INDEX):  # the HMI's / is its dashboard page (issue 5); adapters' is theirs
            app.add_url_rule(f"{prefix}/", f"meta_{name}_index", index, methods=["GET"])
        app.add_url_rule(f"{prefix}/openapi.json", f"meta_{name}_openapi", spec, methods=["GET"])
        app.add_url_rule(f"{prefix}/docs", f"meta_{name}_docs", docs, methods=["GET"])
        if slug not in BUILT:

            def pending(rest: str = "", service: ServicePort = service) -> Response:
                raise NotImplementedYet(f"{service.title} is not built yet in this PAS version", service=service.name)

            for i, path in enumerate([f"{prefix}/<path:rest>", f"{prefix}/health"]):
                app.add_url_rule(
                    path,
                    f"meta_{name}_pending_{i}",
                    pending,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                )


@bp.get("/health")
def health() -> Response:
    """PAS as a whole: the built services and the stores behind them."""
    services = svc()
    redis_ok = True
    try:
        services.redis.ping()
    except Exception:
        redis_ok = False
    body = {
        "status": "ok" if redis_ok else "unhealthy",
        "service": "pas",
        "version": VERSION,
        "redis": "ok" if redis_ok else "unreachable",
        "services": {s.name: ("ok" if s.slug in BUILT else "not_implemented") for s in SERVICES},
    }
    return _json(body, 200 if redis_ok else 503)


@bp.get("/openapi.json")
def openapi() -> Response:
    return _json(full_spec())


@bp.get("/docs")
def docs() -> Response:
    return docs_page(url_for("meta.openapi"))
