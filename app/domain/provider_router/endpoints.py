"""Where PAS may send requests (and provider keys): http(s) only, never PAS's own non-model ports (a loop), and
only hosts the operator allowlisted, besides PAS's own model services (RELIABILITY decision 10, X2)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from app.domain.provider_router.config import RouterConfig

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_this_host(host: str, own_host: str) -> bool:
    """Any name that reaches this machine's loopback or PAS's bind address: localhost, 127.x in any spelling
    the resolver accepts (127.1, 0x7f000001), ::1, ::ffff:127.x, 0.0.0.0, ::."""
    if host in ("localhost", own_host.lower()) or host.endswith(".localhost"):
        return True
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(host)
    except ValueError:
        try:
            ip = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def endpoint_problem(url: str, cfg: RouterConfig) -> str | None:
    """None when PAS may send requests (and keys) to url (RELIABILITY decision 10, X2)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "endpoint is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "endpoint must be an http(s) URL"
    if parts.username or parts.password or parts.query or parts.fragment:
        return "endpoint may not carry credentials, a query or a fragment"
    host = parts.hostname.lower()
    port = port or (443 if parts.scheme == "https" else 80)
    if port in cfg.pas_ports and is_this_host(host, cfg.own_host):  # before the allowlist: "127.0.0.1" lists it
        return (
            f"endpoint {host}:{port} is one of PAS's own ports, not a model service: a provider there would send "
            "PAS's calls back into PAS (a loop)"
        )
    if host in cfg.allowlist or f"{host}:{port}" in cfg.allowlist:
        return None
    if host in LOOPBACK_NAMES and port in cfg.own_ports:
        return None  # PAS's own model services and adapters
    try:
        ipaddress.ip_address(host)
        kind = "address"
    except ValueError:
        kind = "host"
    return f"endpoint {kind} {host}:{port} is not in PAS_UPSTREAM_ALLOWLIST"
