"""From an ``Authorization`` header (or a WebSocket ``connection_init`` payload) to a principal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graph.auth.principal import ANONYMOUS, ClaimsError, Principal, principal_from_claims
from graph.auth.tokens import InvalidToken, TokenVerifier

__all__ = ["Authenticator", "InvalidToken"]


class Authenticator:
    """No credentials: anonymous (the public catalogue only). Bad credentials: refused, never
    downgraded to anonymous, so a client learns its token is wrong."""

    def __init__(
        self, verifier: TokenVerifier | None, client_channels: Mapping[str, str] | None = None
    ) -> None:
        self.verifier = verifier
        self.client_channels = client_channels

    async def from_header(self, authorization: str | None) -> Principal:
        if not authorization:
            return ANONYMOUS
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidToken("expected a Bearer token")
        return await self.from_token(token.strip())

    async def from_connection_params(self, params: Mapping[str, Any] | None) -> Principal:
        """graphql-transport-ws: the token travels in ``connection_init``'s payload, as
        ``Authorization: Bearer …`` (browsers cannot set WebSocket headers) or ``token``."""
        if not params:
            return ANONYMOUS
        header = params.get("Authorization") or params.get("authorization")
        if isinstance(header, str):
            return await self.from_header(header)
        token = params.get("token")
        if isinstance(token, str) and token:
            return await self.from_token(token)
        return ANONYMOUS

    async def from_token(self, token: str) -> Principal:
        if self.verifier is None:
            raise InvalidToken("this gateway has no identity provider configured")
        claims = await self.verifier.verify(token)
        try:
            return principal_from_claims(claims, self.client_channels)
        except ClaimsError as exc:
            raise InvalidToken(str(exc)) from None
