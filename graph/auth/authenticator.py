"""From an ``Authorization`` header (or a WebSocket ``connection_init`` payload) to a principal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graph.auth.principal import ANONYMOUS, ClaimsError, Principal, principal_from_claims
from graph.auth.tokens import InvalidToken, TokenVerifier

__all__ = ["Authenticator", "InvalidToken", "bearer_token", "token_from_params"]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header; None without a header."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("expected a Bearer token")
    return token.strip()


def token_from_params(params: Mapping[str, Any] | None) -> str | None:
    """The token of a graphql-transport-ws ``connection_init`` payload, if it carries one."""
    if not params:
        return None
    header = params.get("Authorization") or params.get("authorization")
    if isinstance(header, str):
        return bearer_token(header)
    token = params.get("token")
    return token if isinstance(token, str) and token else None


class Authenticator:
    """No credentials: anonymous (the public catalogue only). Bad credentials: refused, never
    downgraded to anonymous, so a client learns its token is wrong."""

    def __init__(
        self, verifier: TokenVerifier | None, client_channels: Mapping[str, str] | None = None
    ) -> None:
        self.verifier = verifier
        self.client_channels = client_channels

    async def from_header(self, authorization: str | None) -> Principal:
        token = bearer_token(authorization)
        return ANONYMOUS if token is None else await self.from_token(token)

    async def from_connection_params(self, params: Mapping[str, Any] | None) -> Principal:
        """graphql-transport-ws: the token travels in ``connection_init``'s payload, as
        ``Authorization: Bearer …`` (browsers cannot set WebSocket headers) or ``token``."""
        token = token_from_params(params)
        return ANONYMOUS if token is None else await self.from_token(token)

    async def from_token(self, token: str) -> Principal:
        if self.verifier is None:
            raise InvalidToken("this gateway has no identity provider configured")
        claims = await self.verifier.verify(token)
        try:
            return principal_from_claims(claims, self.client_channels)
        except ClaimsError as exc:
            raise InvalidToken(str(exc)) from None
