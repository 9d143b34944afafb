"""Which endpoints a provider may have (pure, no Flask): never PAS's own gateway, in any spelling of this host."""

from __future__ import annotations

from app.domain.provider_router.config import RouterConfig
from app.domain.provider_router.endpoints import endpoint_problem

OFFSET = 20000
CFG = RouterConfig(
    own_ports=frozenset({8050 + OFFSET, 8100 + OFFSET}),
    pas_ports=frozenset({6100 + OFFSET, 6120 + OFFSET, 6103 + OFFSET, 6121 + OFFSET}),
    allowlist=frozenset({"127.0.0.1", "api.vendor.example"}),
)


def test_pas_own_surfaces_are_refused_in_every_spelling() -> None:
    for host in ("127.0.0.1", "localhost", "LocalHost", "[::1]", "0.0.0.0", "[::]", "127.0.0.2", "127.1",
                 "0x7f000001", "2130706433", "[::ffff:127.0.0.1]", "pas.localhost"):  # fmt: skip
        for port in (6100, 6120, 6103, 6121):
            problem = endpoint_problem(f"http://{host}:{port + OFFSET}/v1", CFG)
            assert problem is not None and "PAS's own ports" in problem, (host, port, problem)


def test_own_model_services_and_other_ports_follow_the_old_rules() -> None:
    assert endpoint_problem(f"http://127.0.0.1:{8050 + OFFSET}/v1", CFG) is None  # pas:8050, shifted
    assert endpoint_problem(f"http://localhost:{8100 + OFFSET}/v1", CFG) is None
    assert endpoint_problem("http://127.0.0.1:6100/v1", CFG) is None  # not this PAS (offset): the allowlist decides
    assert endpoint_problem("https://api.vendor.example/v1", CFG) is None
    assert "PAS_UPSTREAM_ALLOWLIST" in (endpoint_problem("http://10.0.0.1:6100/v1", CFG) or "")
