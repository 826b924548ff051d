"""The development identity provider's public face: discovery document and JWKS (not TMF).

- ``GET /.well-known/openid-configuration`` -- the discovery document (issuer
  ``urn:csm-graph:dev-idp``, marked development-only)
- ``GET /.well-known/jwks.json`` -- the public half of the development key

Only the public key is served; tokens are minted by ``csm-graph token`` with the same key file
(see ``graph.auth.devidp``). Both bodies are fixed for the app's lifetime and cacheable.
"""

from __future__ import annotations

from typing import Final

import orjson
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec

from graph.auth.devidp import discovery, public_jwks

__all__ = ["DISCOVERY_PATH", "JWKS_PATH", "add_idp_routes"]

DISCOVERY_PATH: Final = "/.well-known/openid-configuration"
JWKS_PATH: Final = "/.well-known/jwks.json"
_CACHE: Final = {"Cache-Control": "max-age=300"}


def add_idp_routes(app: web.Application, key: ec.EllipticCurvePrivateKey, base_url: str) -> None:
    """Serve the development IdP's discovery document and JWKS for ``key`` on ``app``."""
    discovery_body = orjson.dumps(discovery(base_url))
    jwks_body = orjson.dumps(public_jwks(key))

    async def get_discovery(request: web.Request) -> web.Response:
        return web.Response(body=discovery_body, content_type="application/json", headers=_CACHE)

    async def get_jwks(request: web.Request) -> web.Response:
        return web.Response(body=jwks_body, content_type="application/json", headers=_CACHE)

    app.router.add_get(DISCOVERY_PATH, get_discovery)
    app.router.add_get(JWKS_PATH, get_jwks)
