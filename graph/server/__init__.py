"""The aiohttp application: GraphQL over HTTP and WebSocket, health, readiness, metrics."""

from .app import GATEWAY, Gateway, create_app

__all__ = ["GATEWAY", "Gateway", "create_app"]
