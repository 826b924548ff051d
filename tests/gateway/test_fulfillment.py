"""The catalogue, products, product orders and party interactions through the gateway's HTTP
API, against the sandbox."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from typing import Any, cast

import aiohttp
from aiohttp.test_utils import make_mocked_request

from graph.auth import Principal, Role
from graph.context import Context, Info
from graph.loaders import Loaders
from graph.resolvers import fulfillment
from graph.sandbox import RunningSandbox
from graph.schema.common import encode_global_id
from graph.schema.fulfillment import Product, ProductStatus
from graph.sources.fulfillment import Product as ProductRecord
from tests.gateway.conftest import GQL, RunningGateway
from tests.support.tmf_client import call, url_of

OFFERINGS = """
query($category: String, $first: Int, $after: String) {
  productOfferings(category: $category, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node {
      id reference name description lifecycleStatus isSellable isBundle validFrom validUntil
      categories { id reference name description }
      prices { id reference name description priceType recurringChargePeriod
               price { amount currency } }
    } }
  }
}
"""

PRODUCT = """
query($id: ID!) { node(id: $id) { id ... on Product {
  reference name description status isBundle orderDate startDate terminationDate
  productSerialNumber billingAccountReference serviceReferences
  prices { name priceType recurringChargePeriod price { amount currency } }
  characteristics { name value }
  offering { reference name }
} } }
"""

ORDER = """
query($id: ID!) { node(id: $id) { id ... on ProductOrder {
  reference description category state priority orderDate completionDate
  expectedCompletionDate requestedCompletionDate cancellationDate cancellationReason channel
  items { itemId action state quantity offering { reference name } product { reference name } }
  notes { text author date }
  totalPrice { amount currency }
} } }
"""

INTERACTION = """
query($id: ID!) { node(id: $id) { id ... on PartyInteraction {
  reference description direction reason status interactionDate channel notes { text }
} } }
"""


async def _get(http: aiohttp.ClientSession, url: str, **params: str) -> Any:
    reply = await call(http, "GET", url, params=params or None)
    assert reply.status in (200, 206), reply.body
    return reply.body


def _amount(tmf_money: dict[str, Any]) -> dict[str, str]:
    return {
        "amount": str(Decimal(str(tmf_money["value"])).quantize(Decimal("0.01"))),
        "currency": tmf_money["unit"],
    }


def _enum_name(value: str) -> str:
    """The GraphQL enum name of a TMF value: inProgress -> IN_PROGRESS."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", value.strip()).upper()


def _when(value: str | None) -> str | None:
    """A sandbox date-time as the gateway prints it (ISO 8601 with an offset)."""
    return value.replace("Z", "+00:00") if value else None


# -- the catalogue ---------------------------------------------------------------------------


async def test_the_catalogue_is_the_sellable_offerings_without_signing_in(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    result = await gql(OFFERINGS)
    assert "errors" not in result, result
    connection = result["data"]["productOfferings"]
    offerings = await _get(http, url_of(sandbox.url, "productOffering"))
    sellable = [
        o
        for o in offerings
        if o["lifecycleStatus"] == "Active" and o.get("isSellable") is not False
    ]
    assert any(o["lifecycleStatus"] != "Active" for o in offerings)  # the retired one exists
    nodes = [e["node"] for e in connection["edges"]]
    assert [n["reference"] for n in nodes] == [o["id"] for o in sellable]
    assert connection["totalCount"] == len(sellable)
    categories = {c["id"]: c for c in await _get(http, url_of(sandbox.url, "category"))}
    prices = {p["id"]: p for p in await _get(http, url_of(sandbox.url, "productOfferingPrice"))}
    for node, offering in zip(nodes, sellable, strict=True):
        assert node["id"] == encode_global_id("ProductOffering", offering["id"])
        assert node["name"] == offering["name"]
        assert node["description"] == offering["description"]
        assert node["lifecycleStatus"] == "Active"
        assert node["isSellable"] is True
        assert node["isBundle"] is offering["isBundle"]
        assert node["validFrom"] == _when(offering["validFor"]["startDateTime"])
        assert node["validUntil"] is None
        assert node["categories"] == [
            {
                "id": encode_global_id("Category", ref["id"]),
                "reference": ref["id"],
                "name": categories[ref["id"]]["name"],
                "description": categories[ref["id"]]["description"],
            }
            for ref in offering["category"]
        ]
        expected_prices = []
        for ref in offering["productOfferingPrice"]:
            pop = prices[ref["id"]]
            expected_prices.append(
                {
                    "id": encode_global_id("OfferingPrice", pop["id"]),
                    "reference": pop["id"],
                    "name": pop["name"],
                    "description": pop["description"],
                    "priceType": _enum_name(pop["priceType"]),
                    "recurringChargePeriod": pop.get("recurringChargePeriodType"),
                    "price": _amount(pop["price"]),
                }
            )
        assert node["prices"] == expected_prices
    kinds = {p["priceType"] for n in nodes for p in n["prices"]}
    assert kinds == {"RECURRING", "ONE_TIME"}


async def test_the_catalogue_filters_by_category_in_the_backend(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    in_category = await _get(
        http, url_of(sandbox.url, "productOffering"), **{"category.id": "cat-mobile"}
    )
    expected = [o["id"] for o in in_category if o["lifecycleStatus"] == "Active"]
    assert len(expected) < len(in_category)  # the retired mobile plan is left out
    query = """query($c: String) { productOfferings(category: $c) {
      totalCount edges { node { reference categories { reference } } } } }"""
    before = gateway.backend_requests()
    result = await gql(query, {"c": "cat-mobile"})
    assert gateway.backend_requests() - before == 2  # the offerings, then their categories
    assert "errors" not in result, result
    nodes = [e["node"] for e in result["data"]["productOfferings"]["edges"]]
    assert [n["reference"] for n in nodes] == expected
    assert all(n["categories"] == [{"reference": "cat-mobile"}] for n in nodes)
    unknown = await gql(query, {"c": "cat-nothing"})
    assert unknown["data"]["productOfferings"] == {"totalCount": 0, "edges": []}
    bad = await gql(query, {"c": "cat-mobile,cat-tv"})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_the_catalogue_pages_with_cursors(gql: GQL) -> None:
    everything = (await gql(OFFERINGS, {"first": 100}))["data"]["productOfferings"]
    seen: list[str] = []
    after = None
    while True:
        page = (await gql(OFFERINGS, {"first": 4, "after": after}))["data"]["productOfferings"]
        assert page["totalCount"] == everything["totalCount"]
        seen += [e["node"]["reference"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [e["node"]["reference"] for e in everything["edges"]]
    too_many = await gql(OFFERINGS, {"first": 1000})
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# -- products --------------------------------------------------------------------------------


async def test_a_product_as_the_inventory_holds_it(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    products = await _get(http, url_of(sandbox.url, "product"), **{"relatedParty.id": "cus-000002"})
    assert {p["status"] for p in products} == {"active", "terminated"}
    for record in products:
        result = await gql(
            PRODUCT, {"id": encode_global_id("Product", record["id"])}, principal="agent:a1"
        )
        assert "errors" not in result, result
        node = result["data"]["node"]
        assert node["reference"] == record["id"]
        assert node["name"] == record["name"]
        assert node["description"] == record["description"]
        assert node["status"] == _enum_name(record["status"])
        assert node["isBundle"] is record["isBundle"]
        assert node["orderDate"] == _when(record["orderDate"])
        assert node["startDate"] == _when(record["startDate"])
        assert node["terminationDate"] == _when(record.get("terminationDate"))
        assert node["productSerialNumber"] == record.get("productSerialNumber")
        assert node["billingAccountReference"] == record["billingAccount"]["id"]
        assert node["serviceReferences"] == [s["id"] for s in record["realizingService"]]
        assert node["offering"]["reference"] == record["productOffering"]["id"]
        assert node["prices"] == [
            {
                "name": p["name"],
                "priceType": _enum_name(p["priceType"]),
                "recurringChargePeriod": p.get("recurringChargePeriod"),
                "price": _amount(p["price"]["taxIncludedAmount"]),
            }
            for p in record["productPrice"]
        ]
        assert node["characteristics"] == [
            {
                "name": c["name"],
                "value": c["value"] if isinstance(c["value"], str) else str(c["value"]).lower(),
            }
            for c in record["productCharacteristic"]
        ]


async def test_product_statuses_map_to_the_enum_or_null(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    # TMF637 spells one status "aborted " (trailing space); both spellings are ABORTED.
    reply = await call(
        http,
        "PATCH",
        url_of(sandbox.url, "product", "prd-000003-1"),
        json={"status": "aborted "},
        content_type="application/merge-patch+json",
    )
    assert reply.status == 200, reply.body
    result = await gql(
        "query($id: ID!) { node(id: $id) { ... on Product { status } } }",
        {"id": encode_global_id("Product", "prd-000003-1")},
        principal="agent:a1",
    )
    assert result["data"]["node"] == {"status": "ABORTED"}
    record = cast(ProductRecord, {"id": "p1"})
    for value, status in (
        ("aborted", ProductStatus.ABORTED),
        ("pendingTerminate", ProductStatus.PENDING_TERMINATE),
        ("mothballed", None),
        (None, None),
    ):
        assert Product.from_record({**record, "status": cast(str, value)}).status is status


# -- product orders --------------------------------------------------------------------------


async def test_product_orders_as_ordering_holds_them(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    orders: list[dict[str, Any]] = []
    for customer in ("cus-000001", "cus-000002", "cus-000012"):
        orders += await _get(
            http, url_of(sandbox.url, "productOrder"), **{"relatedParty.id": customer}
        )
    states = {o["state"] for o in orders}
    assert {"failed", "completed", "cancelled", "inProgress", "acknowledged"} <= states
    assert any("note" in o for o in orders)
    assert any("orderTotalPrice" not in o for o in orders)
    for order in orders:
        result = await gql(
            ORDER, {"id": encode_global_id("ProductOrder", order["id"])}, principal="agent:a1"
        )
        assert "errors" not in result, result
        node = result["data"]["node"]
        assert node["reference"] == order["id"]
        assert node["description"] == order["description"]
        assert node["category"] == order["category"]
        assert node["state"] == _enum_name(order["state"])
        assert node["priority"] == order["priority"]
        for field in (
            "orderDate",
            "completionDate",
            "expectedCompletionDate",
            "requestedCompletionDate",
            "cancellationDate",
        ):
            assert node[field] == _when(order.get(field)), field
        assert node["cancellationReason"] == order.get("cancellationReason")
        assert node["channel"] == order["channel"][0]["name"]
        assert node["notes"] == [
            {"text": n["text"], "author": n["author"], "date": _when(n["date"])}
            for n in order.get("note", [])
        ]
        if "orderTotalPrice" in order:
            assert node["totalPrice"] == [
                _amount(t["price"]["taxIncludedAmount"]) for t in order["orderTotalPrice"]
            ]
        else:
            assert node["totalPrice"] is None
        expected_items = []
        for item in order["productOrderItem"]:
            product = None
            if "product" in item:
                held = await _get(http, url_of(sandbox.url, "product", item["product"]["id"]))
                product = {"reference": held["id"], "name": held["name"]}
            offering = await _get(
                http, url_of(sandbox.url, "productOffering", item["productOffering"]["id"])
            )
            expected_items.append(
                {
                    "itemId": item["id"],
                    "action": _enum_name(item["action"]),
                    "state": _enum_name(item["state"]),
                    "quantity": item["quantity"],
                    "offering": {"reference": offering["id"], "name": offering["name"]},
                    "product": product,
                }
            )
        assert node["items"] == expected_items


# -- party interactions ----------------------------------------------------------------------


async def test_party_interactions_as_the_crm_holds_them(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    interactions = await _get(
        http, url_of(sandbox.url, "partyInteraction"), **{"relatedParty.id": "cus-000003"}
    )
    assert len(interactions) > 1
    for record in interactions:
        result = await gql(
            INTERACTION,
            {"id": encode_global_id("PartyInteraction", record["id"])},
            principal="agent:a1",
        )
        assert "errors" not in result, result
        assert result["data"]["node"] == {
            "id": encode_global_id("PartyInteraction", record["id"]),
            "reference": record["id"],
            "description": record["description"],
            "direction": record["direction"],
            "reason": record["reason"],
            "status": record["status"],
            "interactionDate": _when(record["interactionDate"]["startDateTime"]),
            "channel": record["channel"][0]["name"],
            "notes": [{"text": n["text"]} for n in record.get("note", [])],
        }


# -- batching --------------------------------------------------------------------------------

BATCH_ITEM = """
  o{n}: node(id: "{id}") {{ ... on ProductOrder {{
    state items {{
      offering {{ name categories {{ name }} prices {{ price {{ amount }} }} }}
      product {{ status prices {{ price {{ amount }} }} offering {{ name }} }}
    }}
  }} }}
"""


async def test_orders_of_many_customers_cost_as_many_requests_as_of_one(
    gql: GQL, gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    customers = ",".join(f"cus-{n:06d}" for n in range(1, 21))
    placed = await _get(http, url_of(sandbox.url, "productOrder"), **{"relatedParty.id": customers})
    # Orders whose items name a product, so that every query walks the same levels.
    ids = [o["id"] for o in placed if all("product" in i for i in o["productOrderItem"])]
    assert len(ids) >= 6

    async def requests_for(order_ids: list[str]) -> int:
        body = "".join(
            BATCH_ITEM.format(n=n, id=encode_global_id("ProductOrder", order_id))
            for n, order_id in enumerate(order_ids)
        )
        # Reads only: the agent's access records (TMF683 POSTs) are written after the answer,
        # and may land while the next query is counted.
        before = gateway.backend_requests("GET")
        result = await gql("{" + body + "}", principal="agent:a1")
        assert "errors" not in result, result
        for n in range(len(order_ids)):
            assert all(i["product"]["offering"] for i in result["data"][f"o{n}"]["items"])
        return gateway.backend_requests("GET") - before

    one = await requests_for(ids[:1])
    five = await requests_for(ids[1:6])
    assert one == five
    # orders; their offerings and products; categories and prices (the products' offerings
    # are the items' offerings, already loaded)
    assert one == 5


async def test_record_resolvers_batch_per_customer_and_sort_newest_first(
    gateway: RunningGateway, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    agent = Principal(subject="a1", role=Role.AGENT, channel="agent-desktop")

    def fresh_info() -> Info:
        context = Context(
            request=make_mocked_request("POST", "/graphql"),
            response=None,
            principal=agent,
            sources=gateway.state.sources,
            loaders=Loaders(),
            settings=gateway.state.settings,
            stores=gateway.state.stores,
            audit=gateway.state.audit,
        )
        return cast(Info, _FakeInfo(context))

    async def fetch(customers: list[str]) -> tuple[int, list[Any]]:
        info = fresh_info()
        before = gateway.backend_requests()
        found = await asyncio.gather(
            *(
                asyncio.gather(
                    fulfillment.products_of(info, c),
                    fulfillment.product_orders_of(info, c),
                    fulfillment.interactions_of(info, c),
                )
                for c in customers
            )
        )
        return gateway.backend_requests() - before, found

    one, _ = await fetch(["cus-000001"])
    customers = [f"cus-{n:06d}" for n in range(2, 7)]
    five, found = await fetch(customers)
    assert one == five == 3
    for customer, (products, orders, interactions) in zip(customers, found, strict=True):
        party = {"relatedParty.id": customer}
        held = await _get(http, url_of(sandbox.url, "product"), **party)
        assert [p["id"] for p in products] == [p["id"] for p in held]
        placed = await _get(http, url_of(sandbox.url, "productOrder"), **party)
        newest = sorted(placed, key=lambda o: o["orderDate"], reverse=True)
        assert [o["id"] for o in orders] == [o["id"] for o in newest]
        past = await _get(http, url_of(sandbox.url, "partyInteraction"), **party)
        latest = sorted(past, key=lambda i: i["interactionDate"]["startDateTime"], reverse=True)
        assert [i["id"] for i in interactions] == [i["id"] for i in latest]
    info = fresh_info()
    product = await fulfillment.product_by_id(info, "prd-000002-1")
    assert product is not None
    assert product["id"] == "prd-000002-1"
    assert await fulfillment.product_by_id(info, "prd-999999-1") is None


class _FakeInfo:
    """All a record-level resolver reads of its Info: the context."""

    def __init__(self, context: Context) -> None:
        self.context = context


async def test_a_retired_offering_is_reachable_by_id_only(
    gql: GQL, sandbox: RunningSandbox, http: aiohttp.ClientSession
) -> None:
    offerings = await _get(http, url_of(sandbox.url, "productOffering"), lifecycleStatus="Retired")
    assert offerings
    for record in offerings:
        global_id = encode_global_id("ProductOffering", record["id"])
        result = await gql(
            """query($id: ID!) { node(id: $id) { ... on ProductOffering {
              reference lifecycleStatus isSellable validFrom validUntil } } }""",
            {"id": global_id},
            principal="agent:a1",
        )
        assert result["data"]["node"] == {
            "reference": record["id"],
            "lifecycleStatus": "Retired",
            "isSellable": False,
            "validFrom": _when(record["validFor"]["startDateTime"]),
            "validUntil": _when(record["validFor"]["endDateTime"]),
        }
        listed = await gql("{ productOfferings { edges { node { id } } } }")
        assert global_id not in [
            e["node"]["id"] for e in listed["data"]["productOfferings"]["edges"]
        ]
