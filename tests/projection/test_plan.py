"""The projection planned for a document: what each resource is asked for, and when the plan
gives up (whole records)."""

from __future__ import annotations

import pytest
import strawberry
from graphql import GraphQLSchema, parse

from graph.schema import build_schema
from graph.schema.projection import Reads, plan, plan_for, reads
from tests.gateway.test_customer360 import LIST, ME


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema()._schema


def planned(
    schema: GraphQLSchema, document: str, operation: str | None = None
) -> dict[str, set[str] | None]:
    found = plan(schema, parse(document), operation)
    assert found is not None, "the plan gave up"
    return {r: None if a is None else set(a) for r, a in found.items()}


def test_customer_360_asks_each_resource_for_what_the_view_shows(schema: GraphQLSchema) -> None:
    found = planned(schema, ME)
    assert found["customerBill"] == {
        "id", "billNo", "billDate", "state", "amountDue", "remainingAmount", "appliedPayment",
    }  # fmt: skip
    # The person behind the customer: the join key, and what fullName is made of.
    assert found["customer"] == {"id", "name", "status", "engagedParty"}
    assert found["individual"] == {"id", "fullName", "givenName", "familyName", "contactMedium"}
    assert found["billingAccount"] == {"id", "name", "accountBalance"}
    # Sort keys and filters the resolvers read: paymentDate, ticket status and creationDate.
    assert found["payment"] == {"id", "status", "totalAmount", "paymentDate"}
    assert found["troubleTicket"] == {"id", "status", "description", "creationDate"}
    # Joins: a product's services and offering; a service's health rule and resources.
    assert found["product"] == {"id", "name", "status", "productOffering", "realizingService"}
    assert found["service"] == {
        "id", "state", "hasStarted", "isServiceEnabled", "supportingResource",
    }  # fmt: skip
    assert found["serviceProblem"] == {"id", "status", "priority", "creationDate"}
    assert found["paymentMethod"] == {
        "id", "@type", "brand", "cardType", "lastFourDigits", "expirationDate",
    }  # fmt: skip
    assert found["appliedCustomerBillingRate"] == {"id", "name", "taxIncludedAmount"}
    assert found["productOrder"] == {"id", "state", "orderDate", "productOrderItem"}
    assert found["productOffering"] == {"id", "name"}
    assert found["resource"] == {"id", "resourceStatus"}
    assert set(found) == {
        "customer", "individual", "billingAccount", "customerBill", "appliedCustomerBillingRate",
        "payment", "paymentMethod", "product", "productOffering", "service", "resource",
        "serviceProblem", "troubleTicket", "productOrder",
    }  # fmt: skip


def test_an_agent_list_plans_like_the_same_view_of_one_customer(schema: GraphQLSchema) -> None:
    assert planned(schema, LIST) == planned(schema, ME)


def test_a_connection_without_its_items_still_reads_the_sort_key(schema: GraphQLSchema) -> None:
    found = planned(schema, "{ me { bills { totalCount } } }")
    # Customer.bills goes through the accounts (ids only) and sorts bills by billDate.
    assert found["billingAccount"] == {"id"}
    assert found["customerBill"] == {"id", "billDate"}


def test_fragments_and_aliases_add_up(schema: GraphQLSchema) -> None:
    document = """
      query Q { me { ...Bills
        latest: bills(first: 1) { edges { node { due: amountDue { amount } } } } } }
      fragment Bills on Customer { bills { edges { node { ...BillParts } } } }
      fragment BillParts on Bill { billNo state }
    """
    found = planned(schema, document, "Q")
    assert found["customerBill"] == {"id", "billDate", "billNo", "state", "amountDue"}


def test_skip_and_include_count_as_selected(schema: GraphQLSchema) -> None:
    document = """query Q($on: Boolean!) { me {
      bills @include(if: $on) { edges { node { billNo @skip(if: $on) } } } } }"""
    assert planned(schema, document)["customerBill"] == {"id", "billDate", "billNo"}


def test_node_is_planned_for_each_type_it_may_return(schema: GraphQLSchema) -> None:
    document = """{ node(id: "x") { id
      ... on Bill { billNo amountDue { amount } }
      ... on Product { name services { reference } } } }"""
    found = planned(schema, document)
    assert found["customerBill"] == {"id", "billNo", "amountDue"}
    assert found["product"] == {"id", "name", "realizingService"}
    assert found["service"] == {"id"}
    # Every other Node type may come back too: its records are asked for their id only.
    assert found["troubleTicket"] == {"id"}
    assert found["customer"] == {"id", "name"}


def test_a_union_is_planned_for_each_member(schema: GraphQLSchema) -> None:
    document = """{ me { troubleTickets { edges { node {
      relatedEntities { entity { __typename ... on Bill { billNo } ... on Service { name } } }
    } } } } }"""
    found = planned(schema, document)
    assert found["troubleTicket"] == {"id", "status", "creationDate", "relatedEntity"}
    assert found["customerBill"] == {"id", "billNo"}
    assert found["service"] == {"id", "name"}
    assert found["product"] == {"id"}
    assert found["resource"] == {"id"}


def test_interface_fragments_apply_to_every_implementation(schema: GraphQLSchema) -> None:
    document = """{ me { bills { edges { node { ...N } } } } }
      fragment N on Node { id }"""
    assert planned(schema, document)["customerBill"] == {"id", "billDate"}


def test_a_resolver_reading_whole_records_leaves_them_whole(schema: GraphQLSchema) -> None:
    document = """{ quoteProductOrder(input: {items: [{action: ADD, offering: "x"}]}) {
      quote { dueNow { amount } items { offering { name } } } } }"""
    found = planned(schema, document)
    assert found["productOffering"] is None
    assert found["product"] is None


@pytest.mark.parametrize(
    ("document", "operation"),
    [
        ("mutation { logOut }", None),  # not even valid: a mutation is never planned
        ("subscription S { x }", "S"),
        ("query A { me { name } } query B { me { status } }", None),  # which one?
        ("query A { me { name } }", "Other"),
    ],
)
def test_what_is_not_one_query_is_not_projected(
    schema: GraphQLSchema, document: str, operation: str | None
) -> None:
    assert plan(schema, parse(document), operation) is None


def test_one_of_several_operations_by_name(schema: GraphQLSchema) -> None:
    document = "query A { me { name } } query B { me { status } }"
    assert planned(schema, document, "B")["customer"] == {"id", "name", "status"}


def test_introspection_reads_no_backend(schema: GraphQLSchema) -> None:
    assert planned(schema, "{ __typename __schema { queryType { name } } }") == {}


@strawberry.type
class Thing:
    name: str

    @strawberry.field
    def extra(self) -> str:
        return ""


@strawberry.type
class Root:
    @strawberry.field
    def thing(self) -> Thing:
        return Thing(name="")


def test_a_resolver_that_declares_nothing_leaves_the_operation_whole() -> None:
    reads(Thing, "thing")
    reads(Root, None, thing=Reads())
    schema = strawberry.Schema(query=Root)._schema
    assert plan(schema, parse("{ thing { name } }"), None) == {"thing": frozenset({"id", "name"})}
    assert plan(schema, parse("{ thing { name extra } }"), None) is None


def test_declarations_refuse_fields_a_type_does_not_have() -> None:
    with pytest.raises(ValueError, match="nmae"):
        reads(Thing, "thing", nmae="name")
    with pytest.raises(ValueError, match="no resource"):
        reads(Thing, None, name="name")


def test_a_plan_is_made_once_per_document_object(schema: GraphQLSchema) -> None:
    document = parse(ME)
    first = plan_for(schema, document, "Customer360")
    assert plan_for(schema, document, "Customer360") is first
    # Another parse of the same text is another object: planned again, to the same result.
    again = plan_for(schema, parse(ME), "Customer360")
    assert again is not first
    assert again == first
