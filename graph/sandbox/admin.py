"""``/admin``: the sandbox's control surface for tests, benchmarks and demos (not TMF).

- ``GET /admin/faults`` -- current faults per API
- ``PUT /admin/faults/{api}`` -- set one API's fault (``*`` for all), body: a :class:`Fault`
- ``DELETE /admin/faults`` -- clear all faults
- ``GET /admin/stats`` / ``DELETE /admin/stats`` -- request counts per API, and reset
- ``GET /admin/events`` -- hub subscriptions and delivery counts
- ``GET /admin/requests[?api=TMF629]`` / ``DELETE /admin/requests`` -- per API, the selected
  headers of the last requests, oldest first (credentials as fingerprints), and forget them
- ``POST /admin/bill-run`` -- body ``{"account": "ba-…"}`` or ``{"customer": "cus-…"}``: issue
  the next bill of the account (or of each of the customer's accounts with charges), as a bill
  run would (:mod:`.billrun`); 201 with ``{"bills": [...]}``
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from .backend import Backend
from .billrun import bill_run, bill_run_for_customer
from .errors import TmfError
from .faults import Fault, FaultBoard

__all__ = ["add_admin_routes"]


def _json(data: Any) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json")


def add_admin_routes(app: web.Application, board: FaultBoard, backend: Backend) -> None:
    async def get_faults(request: web.Request) -> web.Response:
        return _json(board.snapshot())

    async def put_fault(request: web.Request) -> web.Response:
        try:
            data = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            raise TmfError(400, "Invalid body", "the body is not valid JSON") from None
        key = request.match_info["api"]
        board.set(key, Fault.from_json(data))
        return _json(board.snapshot())

    async def clear_faults(request: web.Request) -> web.Response:
        board.clear()
        return web.Response(status=204)

    async def get_stats(request: web.Request) -> web.Response:
        return _json({"apis": board.stats(), "materialized": backend.dataset.materialized()})

    async def reset_stats(request: web.Request) -> web.Response:
        board.reset_stats()
        return web.Response(status=204)

    async def get_events(request: web.Request) -> web.Response:
        subs = [
            s.as_json() | {"api": s.api, "queued": s.queue.qsize()}
            for s in backend.hub.subscriptions.values()
        ]
        return _json({"subscriptions": subs, **backend.hub.stats})

    async def get_requests(request: web.Request) -> web.Response:
        return _json(board.recent_requests(request.query.get("api")))

    async def clear_requests(request: web.Request) -> web.Response:
        board.recent.clear()
        return web.Response(status=204)

    async def run_bills(request: web.Request) -> web.Response:
        try:
            data = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            raise TmfError(400, "Invalid body", "the body is not valid JSON") from None
        account = data.get("account") if isinstance(data, dict) else None
        customer = data.get("customer") if isinstance(data, dict) else None
        if isinstance(account, str) and customer is None:
            bills = [bill_run(backend, account)]
        elif isinstance(customer, str) and account is None:
            bills = bill_run_for_customer(backend, customer)
        else:
            raise TmfError(400, "Invalid body", 'give one of "account" or "customer" (an id)')
        return web.Response(
            status=201, body=orjson.dumps({"bills": bills}), content_type="application/json"
        )

    app.router.add_get("/admin/faults", get_faults)
    app.router.add_put("/admin/faults/{api}", put_fault)
    app.router.add_delete("/admin/faults", clear_faults)
    app.router.add_get("/admin/stats", get_stats)
    app.router.add_delete("/admin/stats", reset_stats)
    app.router.add_get("/admin/events", get_events)
    app.router.add_get("/admin/requests", get_requests)
    app.router.add_delete("/admin/requests", clear_requests)
    app.router.add_post("/admin/bill-run", run_bills)
