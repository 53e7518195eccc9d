"""API keys with roles, compared in constant time and never logged.

A key is sent as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. Roles:
``predict`` (prediction endpoints), ``feedback`` (outcomes), ``admin`` (everything,
including ``/admin/*``); reading the report and the dashboard needs any valid key.
With no keys configured the service is open and :func:`check_bind` keeps it on 127.0.0.1.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from tabloop.exceptions import ConfigError
from tabloop.serve._errors import ApiError

if TYPE_CHECKING:
    from fastapi import Request

    from tabloop.config import ProjectConfig

ANY_ROLE = "any"
_Endpoint = TypeVar("_Endpoint", bound=Callable[..., Any])


@dataclass(frozen=True)
class ApiKey:
    name: str
    secret: bytes
    roles: frozenset[str]


def load_keys(config: ProjectConfig) -> list[ApiKey]:
    """The configured keys, reading ``env`` ones now; a missing variable is a ConfigError."""
    keys = []
    for name, spec in config.serve.keys.items():
        secret = spec.key
        if spec.env is not None:
            secret = os.environ.get(spec.env)
            if not secret:
                raise ConfigError(
                    f"serve.keys.{name}: environment variable {spec.env!r} is not set (or empty)."
                )
        if secret is None or len(secret) < 16:
            raise ConfigError(f"serve.keys.{name}: a key needs at least 16 characters.")
        keys.append(ApiKey(name, secret.encode(), frozenset(spec.roles)))
    return keys


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, keys: list[ApiKey], *, insecure: bool) -> str | None:
    """Refuse a non-loopback bind without keys unless ``insecure``; return a start-up note."""
    if keys:
        return None
    if is_loopback(host):
        return f"No API keys configured: serving on {host} only (this machine)."
    if not insecure:
        raise ConfigError(
            f"Refusing to serve on {host} without API keys: anyone who can reach it could "
            "predict, upload outcomes and reset the log. Configure serve.keys, bind 127.0.0.1, "
            "or pass --insecure."
        )
    return f"WARNING: serving on {host} with no API keys (--insecure): anyone can call it."


def needs(role: str) -> Callable[[_Endpoint], _Endpoint]:
    """Mark an endpoint as needing a key with ``role`` (or :data:`ANY_ROLE`).

    :class:`~tabloop.serve.protocols.StrictJSONRoute` checks the key before the body or the
    query is read: a caller without a key learns nothing about what it would have sent.
    """

    def mark(endpoint: _Endpoint) -> _Endpoint:
        endpoint.tabloop_role = role  # type: ignore[attr-defined]
        return endpoint

    return mark


class Guard:
    """Checks a request's key against the role an endpoint needs."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self.keys = keys

    def accepts(self, request: Request) -> bool:
        """True when the service has no keys or ``request`` carries a valid one."""
        try:
            self(request, ANY_ROLE)
        except ApiError:
            return False
        return True

    def __call__(self, request: Request, role: str) -> str | None:
        """The name of the key that may call, or None when the service has no keys."""
        if not self.keys:
            return None
        sent = _sent_key(request)
        if sent is None:
            raise ApiError(
                401,
                "unauthorized",
                "This service needs an API key: send 'Authorization: Bearer <key>' or "
                "'X-API-Key: <key>'.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        found = None
        for key in self.keys:  # every key is compared, so timing does not say which matched
            if hmac.compare_digest(key.secret, sent) and found is None:
                found = key
        if found is None:
            raise ApiError(
                401,
                "unauthorized",
                "The API key is not valid.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if role != ANY_ROLE and role not in found.roles and "admin" not in found.roles:
            raise ApiError(
                403,
                "forbidden",
                f"Key {found.name!r} may not do this: it needs the role {role!r} "
                f"(it has {', '.join(sorted(found.roles))}).",
            )
        return found.name


def _sent_key(request: Request) -> bytes | None:
    auth = request.headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip().encode()
    header = request.headers.get("x-api-key")
    return header.strip().encode() if header else None
