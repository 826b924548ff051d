"""The channel policy: one declarative table, and the checks that apply it to an operation.

:data:`CHANNEL_POLICY` says, per channel, which roles it admits, whether its clients may only
run trusted operations (the manifest in :mod:`graph.operations`), how deep and how costly an
operation may be, for whom introspection is on, and what assurance level a token without an
``acr`` claim counts as. :data:`FIELD_ASSURANCE` says which fields need more than the lowest
assurance level (an IVR PIN). Everything the gateway enforces about channels is read from these
two tables; :mod:`graph.server.policy_extension` applies them to every operation after it is
parsed and validated and before any resolver runs, so a refusal costs no backend request.

The checks, in the order they are made (each refusal names its reason and its numbers):

========================  ========================================  =========================
check                     refused when                              ``extensions.code``
========================  ========================================  =========================
admission                 the principal's role is not admitted on   ``FORBIDDEN``
                          its channel
trusted operations        a trusted-only channel (kiosk, IVR)       ``OPERATION_NOT_ALLOWED``
                          sends a document whose sha256 is not in
                          the manifest
public fields             an anonymous caller selects a root field  ``UNAUTHENTICATED``
                          other than the public catalogue
introspection             ``__schema`` / ``__type`` while           ``FORBIDDEN``
                          introspection is off for the principal;
                          costlier than INTROSPECTION_MAX_COST      ``BAD_USER_INPUT``
actions                   a mutation with more root fields          ``BAD_USER_INPUT``
                          (aliases count) than ``max_actions``
                          (one for anonymous callers)
depth                     deeper than the channel's ``max_depth``   ``BAD_USER_INPUT``
cost                      costlier than the channel's ``max_cost``  ``BAD_USER_INPUT``
assurance                 a field needs a higher level than the     ``FORBIDDEN``
                          principal's ``acr``
========================  ========================================  =========================

**Cost** is static, computed from the document (:func:`analyze`): every field costs 1; the
subtree of a list field is multiplied by the list's expected length -- for the ``edges`` of a
connection, the connection's ``first`` argument (literal, variable or, when absent, the maximum
page size the resolver then uses); for other lists, :data:`LIST_SIZE_ESTIMATE`. List sizes
multiply down the tree. Fields are merged by response key as execution merges them, and
``@skip``/``@include`` with a literal or a given variable are honoured, so the figure follows
what would actually run; fragments are walked once per place they are used (memoized), so a
document that spreads fragments exponentially costs no more to analyse than its size.
``__typename`` is free. **Depth** is the number of nested field levels (``{ me { name } }`` is 2).

Introspection (``__schema``, ``__type``) touches no backend and its ``ofType`` chains are deep
by nature, so it counts neither in a channel's depth nor in its cost; it has its own bound,
:data:`INTROSPECTION_MAX_COST`, computed the same way: GraphiQL's introspection query fits,
sixty aliased ``__schema { types { fields { args … } } }`` do not. (Nesting
``fields { type { fields … } } }`` is refused earlier, by graphql-core's own validation rule.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    NamedTypeNode,
    Node,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    value_from_ast_untyped,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef

from graph.auth.principal import ASSURANCE_LEVELS, Principal, Role
from graph.errors import Code

__all__ = [
    "ANONYMOUS_POLICY",
    "CHANNEL_POLICY",
    "FIELD_ASSURANCE",
    "INTROSPECTION_MAX_COST",
    "LIST_SIZE_ESTIMATE",
    "MUTATION_ASSURANCE",
    "PUBLIC_FIELDS",
    "ChannelPolicy",
    "OperationShape",
    "Refusal",
    "analyze",
    "assurance_met",
    "check_admission",
    "check_operation",
    "effective_acr",
    "introspection_allowed",
    "policy_for",
    "required_assurance",
]

CUSTOMER: Final = frozenset({Role.CUSTOMER})
STAFF: Final = frozenset({Role.AGENT, Role.ANALYST})


@dataclass(frozen=True, slots=True)
class ChannelPolicy:
    """One row of the table: what a channel admits and how much it may ask."""

    roles: frozenset[Role]  # who may use the channel at all
    trusted_only: bool  # only operations from the manifest (graph/operations/manifest.json)
    max_depth: int  # nested field levels
    max_cost: int  # static cost (see the module docstring)
    introspection: frozenset[Role]  # roles with introspection on, whatever the configuration
    missing_acr: str  # the assurance level of a token that states none
    max_actions: int = 5  # mutation root fields (aliases count) one operation may hold


# fmt: off
CHANNEL_POLICY: Final[Mapping[str, ChannelPolicy]] = MappingProxyType({
    # The customer portal. Customers only: staff work on the agent desktop, so a staff token
    # issued to the portal's client is a misconfiguration, refused rather than served. Ad-hoc
    # documents are allowed (the portal's pages change faster than a manifest would); the
    # limits fit the portal's largest page, the customer 360 (depth 8, cost 7,565), with room.
    "web": ChannelPolicy(
        roles=CUSTOMER, trusted_only=False, max_depth=10, max_cost=20_000,
        introspection=frozenset(), missing_acr="substantial",
    ),
    # The mobile app: as the portal (same customers, same pages, released on its own cycle).
    "app": ChannelPolicy(
        roles=CUSTOMER, trusted_only=False, max_depth=10, max_cost=20_000,
        introspection=frozenset(), missing_acr="substantial",
    ),
    # The chatbot builds its documents from what a customer types, so it gets tighter limits
    # than the portal: a conversation never needs a whole customer 360 at once.
    "chatbot": ChannelPolicy(
        roles=CUSTOMER, trusted_only=False, max_depth=8, max_cost=2_000,
        introspection=frozenset(), missing_acr="substantial",
    ),
    # In-store kiosks are unattended devices in a public place: they run only the operations
    # in the manifest, so a tampered kiosk can ask nothing new.
    "kiosk": ChannelPolicy(
        roles=CUSTOMER, trusted_only=True, max_depth=8, max_cost=2_000,
        introspection=frozenset(), missing_acr="substantial",
    ),
    # The IVR signs callers in with a PIN (acr low), so its tokens reach only what a PIN may
    # (FIELD_ASSURANCE); it runs only manifest operations, and the smallest ones.
    "ivr": ChannelPolicy(
        roles=CUSTOMER, trusted_only=True, max_depth=7, max_cost=500,
        introspection=frozenset(), missing_acr="low",
    ),
    # Call-centre agents (assisted service) and analysts (GraphiQL). Staff only: a customer
    # token here would mean a customer signed in to the staff application. Larger limits, for
    # customer 360 views over a page of customers; introspection on for analysts, who explore
    # the schema in GraphiQL (agents' desktop runs fixed queries and does not need it).
    "agent-desktop": ChannelPolicy(
        roles=STAFF, trusted_only=False, max_depth=14, max_cost=200_000,
        introspection=frozenset({Role.ANALYST}), missing_acr="substantial",
    ),
})
# fmt: on

# A caller without a token has no channel (the channel comes only from a token): the portal's
# limits apply, and they may read only the public catalogue (PUBLIC_FIELDS).
ANONYMOUS_POLICY: Final = ChannelPolicy(
    roles=frozenset({Role.ANONYMOUS}),
    trusted_only=False,
    max_depth=CHANNEL_POLICY["web"].max_depth,
    max_cost=CHANNEL_POLICY["web"].max_cost,
    introspection=frozenset(),
    missing_acr="low",
    max_actions=1,  # one sign-up per request, not a batch of them
)

# Root fields open to callers without a token: the catalogue, a price preview, and signing up.
# Of these, those whose answer is the same for every caller are also cached whole
# (graph/server/response_cache.py, CACHEABLE_ROOTS) -- a price preview is not.
PUBLIC_FIELDS: Final = frozenset(
    {"Query.productOfferings", "Query.quoteProductOrder", "Mutation.registerCustomer"}
)

# The assurance level ("Type.field" -> minimum acr) a field needs; a field not listed needs
# only "low", so an IVR PIN session reads balances, bills, products and the names of its
# stored payment methods. Levels order low < substantial < high. A token without acr counts as
# its channel's ``missing_acr``: "low" on the IVR (a PIN is all it ever has), "substantial"
# elsewhere, because every other channel's login is a full sign-in and identity providers that
# do not issue acr at all issue it for those logins only. Fields are named on object types:
# a field selected through an interface or a union is checked on every type it may resolve to.
# fmt: off
FIELD_ASSURANCE: Final[Mapping[str, str]] = MappingProxyType({
    # Contact details: reading them is the first step of taking an account over (changing the
    # e-mail or phone the next step), so not on a PIN.
    "Person.contactMedia": "substantial",
    # Date of birth: a knowledge-based check elsewhere; a PIN must not reveal it.
    "Person.birthDate": "substantial",
    # Payment method details (card brand/last four/expiry, masked account). The IVR pays with
    # a stored method by its id, kind and friendly name, which stay "low".
    "PaymentMethod.card": "substantial",
    "PaymentMethod.bankAccount": "substantial",
    # Call and data records (numbers called, places): communications metadata -- guarded on
    # the type too, since node(id:) reaches a Usage without going through Customer.usage.
    "Customer.usage": "substantial",
    "Usage.description": "substantial",
    "Usage.characteristics": "substantial",
    # What the customer told customer care, in the agents' notes (also via node(id:)).
    "Customer.interactions": "substantial",
    "PartyInteraction.description": "substantial",
    "PartyInteraction.notes": "substantial",
    "TroubleTicket.notes": "substantial",
    # The SIM's serial number (ICCID) and the resource's identifying data (an MSISDN is a
    # resource's name and value): what a SIM-swap fraud needs.
    "Resource.serialNumber": "substantial",
    "Resource.characteristics": "substantial",
    "Resource.name": "substantial",
    "Resource.value": "substantial",
    # Actions a PIN may take (every other mutation needs MUTATION_ASSURANCE): paying with a
    # stored method, and reporting a fault. Signing up has no sign-in at all.
    "Mutation.payBill": "low",
    "Mutation.createTroubleTicket": "low",
    "Mutation.registerCustomer": "low",
    # Inputs: parts of an action that need more than the action (checked by the action).
    # Paying with a card not stored yet is adding a payment method, which a PIN may not.
    "PayBillInput.newCard": "substantial",
})
# fmt: on

# Mutations change things: one not listed in FIELD_ASSURANCE needs this level, so each
# mutation a PIN may make (e.g. paying a bill with a stored method) is listed as "low" when it
# lands, and the others (changing contact details or payment methods) stay out of an IVR's reach.
MUTATION_ASSURANCE: Final = "substantial"

# Expected length of a list that is not a connection (a customer's billing accounts, a bill's
# lines): such lists are short by design; lists that grow are connections with `first`.
LIST_SIZE_ESTIMATE: Final = 10

# The cost an introspection selection may have, whoever asks: GraphiQL's introspection query
# (graphql-core's get_introspection_query with every option on) costs 51,853.
INTROSPECTION_MAX_COST: Final = 60_000

# Analysis stops descending here, so a document nested thousands deep costs nothing to refuse.
DEPTH_CAP: Final = 64

_RANK: Final = {level: rank for rank, level in enumerate(ASSURANCE_LEVELS)}


def policy_for(principal: Principal) -> ChannelPolicy | None:
    """The principal's row; None for a channel the table does not know (refused)."""
    if principal.role is Role.ANONYMOUS:
        return ANONYMOUS_POLICY
    return CHANNEL_POLICY.get(principal.channel)


def effective_acr(principal: Principal, policy: ChannelPolicy) -> str:
    if principal.role is Role.ANONYMOUS:
        return "low"
    return principal.acr if principal.acr in _RANK else policy.missing_acr


def introspection_allowed(
    principal: Principal, policy: ChannelPolicy, *, development: bool, configured: bool | None
) -> bool:
    """On for the roles the channel's row names (analysts on the agent desktop); for everyone
    else on when configured (``CSM_INTROSPECTION=1``), off when configured off, and otherwise
    on only in development (the development identity provider trusted)."""
    if principal.role in policy.introspection:
        return True
    return configured if configured is not None else development


def required_assurance(coordinate: str, *, mutation: bool = False) -> str:
    return FIELD_ASSURANCE.get(coordinate, MUTATION_ASSURANCE if mutation else "low")


def assurance_met(principal: Principal, coordinate: str) -> bool:
    """Whether ``principal``'s sign-in reaches the level ``coordinate`` (a field or an input
    field, "Type.field") needs: for actions whose inputs need more than the action itself."""
    policy = policy_for(principal)
    if policy is None:
        return False
    return _RANK[required_assurance(coordinate)] <= _RANK[effective_acr(principal, policy)]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an operation is refused: a client-safe message, its code, and the numbers."""

    message: str
    code: Code
    extensions: Mapping[str, Any] = field(default_factory=dict)
    nodes: tuple[Node, ...] = ()


def check_admission(
    principal: Principal, policy: ChannelPolicy | None, *, trusted: bool
) -> Refusal | None:
    """The checks that need no document: the role on the channel, trusted operations."""
    if policy is None or principal.role not in policy.roles:
        return Refusal(
            f"The {principal.role.value} role is not admitted on the {principal.channel} channel.",
            Code.FORBIDDEN,
            {"channel": principal.channel, "role": principal.role.value},
        )
    if policy.trusted_only and not trusted:
        return Refusal(
            f"The {principal.channel} channel runs only trusted operations; this document is "
            "not one of them.",
            Code.OPERATION_NOT_ALLOWED,
            {"channel": principal.channel},
        )
    return None


@dataclass(frozen=True, slots=True)
class OperationShape:
    """What an operation asks for, found statically in its document."""

    depth: int  # nested field levels; DEPTH_CAP + 1 when deeper than the analysis goes
    cost: int
    fields: Mapping[str, FieldNode]  # "Type.field" on object types -> the first node selecting it
    root_type: str  # Query, Mutation or Subscription (the schema's names)
    mutation: bool
    root_fields: int  # response keys at the root (aliases count: each is an action)
    introspection: tuple[FieldNode, ...]  # the operation's __schema / __type selections
    introspection_cost: int


def check_operation(
    principal: Principal, policy: ChannelPolicy, shape: OperationShape, *, introspection: bool
) -> list[Refusal]:
    """The checks on what the operation asks: public fields, introspection, depth, cost and
    assurance. All refusals are returned (one per field for assurance), the cheapest first."""
    channel = principal.channel if principal.role is not Role.ANONYMOUS else "web"
    if principal.role is Role.ANONYMOUS:
        private = [
            (coordinate, node)
            for coordinate, node in shape.fields.items()
            if coordinate.startswith(shape.root_type + ".") and coordinate not in PUBLIC_FIELDS
        ]
        if private:
            names = ", ".join(f"`{c.partition('.')[2]}`" for c, _ in private)
            return [
                Refusal(
                    f"Sign in to use {names}; without a token only the catalogue is open.",
                    Code.UNAUTHENTICATED,
                    nodes=tuple(node for _, node in private),
                )
            ]
    if shape.mutation and shape.root_fields > policy.max_actions:
        return [
            Refusal(
                f"The operation holds {shape.root_fields} actions; at most "
                f"{policy.max_actions} are allowed in one operation here.",
                Code.BAD_USER_INPUT,
                {"actions": shape.root_fields, "maxActions": policy.max_actions},
            )
        ]
    if shape.introspection and not introspection:
        return [
            Refusal(
                "Introspection is off for this principal on this channel.",
                Code.FORBIDDEN,
                {"channel": channel},
                nodes=shape.introspection,
            )
        ]
    if shape.introspection_cost > INTROSPECTION_MAX_COST:
        return [
            Refusal(
                f"The introspection costs {shape.introspection_cost}; at most "
                f"{INTROSPECTION_MAX_COST} is allowed.",
                Code.BAD_USER_INPUT,
                {"cost": shape.introspection_cost, "maxCost": INTROSPECTION_MAX_COST},
                nodes=shape.introspection,
            )
        ]
    if shape.depth > policy.max_depth:
        deep = f"more than {DEPTH_CAP}" if shape.depth > DEPTH_CAP else str(shape.depth)
        return [
            Refusal(
                f"The operation is {deep} levels deep; the {channel} channel allows "
                f"{policy.max_depth}.",
                Code.BAD_USER_INPUT,
                {"depth": shape.depth, "maxDepth": policy.max_depth},
            )
        ]
    if shape.cost > policy.max_cost:
        return [
            Refusal(
                f"The operation costs {shape.cost}; the {channel} channel allows "
                f"{policy.max_cost}. Ask for fewer items (`first`) or fewer fields.",
                Code.BAD_USER_INPUT,
                {"cost": shape.cost, "maxCost": policy.max_cost},
            )
        ]
    acr = effective_acr(principal, policy)
    refusals = []
    for coordinate, node in shape.fields.items():
        mutation = shape.mutation and coordinate.startswith(shape.root_type + ".")
        needed = required_assurance(coordinate, mutation=mutation)
        if _RANK[needed] > _RANK[acr]:
            refusals.append(
                Refusal(
                    f"{coordinate} needs assurance level {needed}; this sign-in is {acr}.",
                    Code.FORBIDDEN,
                    {"field": coordinate, "requiredAcr": needed, "acr": acr},
                    nodes=(node,),
                )
            )
    return refusals


def analyze(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    page_size: int,
) -> OperationShape | None:
    """The shape of the operation ``operation_name`` selects in a *validated* document (None
    when there is no such operation). ``page_size`` is the ``first`` of a connection that is
    given none (the maximum page size)."""
    operation = _operation(document, operation_name)
    if operation is None:
        return None
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    if root is None:
        return None
    values: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        if definition.default_value is not None:
            values[definition.variable.name.value] = value_from_ast_untyped(
                definition.default_value
            )
    values.update(variables or {})
    walker = _Walker(schema, document, values, page_size)
    depth, cost = walker.walk(root, (operation.selection_set,), None, 0)
    root_fields = len(walker.response_keys(root, operation.selection_set))
    return OperationShape(
        depth=depth,
        cost=cost,
        fields=MappingProxyType(walker.fields),
        root_type=root.name,
        mutation=operation.operation is OperationType.MUTATION,
        root_fields=root_fields,
        introspection=tuple(walker.introspection),
        introspection_cost=walker.introspection_cost,
    )


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


def _is_list(type_: GraphQLOutputType) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


class _Walker:
    """Walks an operation as execution would: fields merged by response key, fragments
    inlined where their type condition matches, abstract types over each possible type."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any],
        page_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.variables = variables
        self.page_size = page_size
        self.fields: dict[str, FieldNode] = {}
        self.introspection: list[FieldNode] = []
        self.introspection_cost = 0
        self._memo: dict[tuple[str, tuple[int, ...], int | None, int], tuple[int, int]] = {}

    def walk(
        self,
        parent: GraphQLObjectType,
        selection_sets: tuple[SelectionSetNode, ...],
        page: int | None,
        level: int,
    ) -> tuple[int, int]:
        """(depth, cost) of the merged selection sets on ``parent``; lists directly in them
        have ``page`` items (a connection's ``first``) or :data:`LIST_SIZE_ESTIMATE`."""
        if level >= DEPTH_CAP:
            return 1, 1  # deeper than anything is allowed: refused on depth anyway
        key = (parent.name, tuple(id(s) for s in selection_sets), page, level)
        if (known := self._memo.get(key)) is not None:
            return known
        depth = cost = 0
        for nodes in self._collect(parent, selection_sets).values():
            name = nodes[0].name.value
            if name == "__typename":
                depth = max(depth, 1)
                continue
            definition = self._field(parent, name, level)
            if definition is None:
                continue  # not in the schema: validation reports it
            children = tuple(n.selection_set for n in nodes if n.selection_set is not None)
            if name in ("__schema", "__type"):
                # Answered from memory: bounded on its own (INTROSPECTION_MAX_COST), and
                # neither in the depth nor in the cost a channel allows.
                self.introspection.append(nodes[0])
                for runtime in self._runtime_types(definition.type):
                    self.introspection_cost += 1 + self.walk(runtime, children, None, level + 1)[1]
                continue
            self.fields.setdefault(f"{parent.name}.{name}", nodes[0])
            sub_depth = sub_cost = 0
            if children:
                own_page = self._first(nodes[0]) if "first" in definition.args else None
                for runtime in self._runtime_types(definition.type):
                    d, c = self.walk(runtime, children, own_page, level + 1)
                    sub_depth, sub_cost = max(sub_depth, d), max(sub_cost, c)
            multiplier = 1
            if _is_list(definition.type):
                multiplier = LIST_SIZE_ESTIMATE if page is None else page
            depth = max(depth, 1 + sub_depth)
            cost += 1 + multiplier * sub_cost
        self._memo[key] = (depth, cost)
        return depth, cost

    def _field(self, parent: GraphQLObjectType, name: str, level: int) -> GraphQLField | None:
        if level == 0 and parent is self.schema.query_type:
            if name == "__schema":
                return SchemaMetaFieldDef
            if name == "__type":
                return TypeMetaFieldDef
        found: GraphQLField | None = parent.fields.get(name)
        return found

    def _runtime_types(self, type_: GraphQLOutputType) -> Iterable[GraphQLObjectType]:
        named = get_named_type(type_)
        if isinstance(named, GraphQLObjectType):
            return (named,)
        if isinstance(named, GraphQLInterfaceType | GraphQLUnionType):
            return self.schema.get_possible_types(named)
        return ()

    def _first(self, node: FieldNode) -> int:
        """The ``first`` a connection field is given, as execution will see it."""
        argument = next((a for a in node.arguments or () if a.name.value == "first"), None)
        value: Any = None
        if argument is None or isinstance(argument.value, NullValueNode):
            value = None
        elif isinstance(argument.value, IntValueNode):
            value = int(argument.value.value)
        elif isinstance(argument.value, VariableNode):
            value = self.variables.get(argument.value.name.value)
        if isinstance(value, bool) or not isinstance(value, int):
            return self.page_size
        return max(value, 0)

    def response_keys(
        self, runtime: GraphQLObjectType, selection_set: SelectionSetNode
    ) -> list[str]:
        """The response keys a selection set yields on ``runtime`` (``__typename`` aside)."""
        groups = self._collect(runtime, (selection_set,))
        return [key for key, nodes in groups.items() if nodes[0].name.value != "__typename"]

    def _collect(
        self, runtime: GraphQLObjectType, selection_sets: Iterable[SelectionSetNode]
    ) -> dict[str, list[FieldNode]]:
        groups: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()

        def visit(selection_set: SelectionSetNode) -> None:
            for selection in selection_set.selections:
                if not self._included(selection):
                    continue
                if isinstance(selection, FieldNode):
                    key = (selection.alias or selection.name).value
                    groups.setdefault(key, []).append(selection)
                elif isinstance(selection, InlineFragmentNode):
                    if self._matches(selection.type_condition, runtime):
                        visit(selection.selection_set)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if name in visited or fragment is None:
                        continue
                    visited.add(name)
                    if self._matches(fragment.type_condition, runtime):
                        visit(fragment.selection_set)

        for selection_set in selection_sets:
            visit(selection_set)
        return groups

    def _matches(self, condition: NamedTypeNode | None, runtime: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        type_ = self.schema.get_type(condition.name.value)
        if type_ is runtime:
            return True
        if isinstance(type_, GraphQLInterfaceType | GraphQLUnionType):
            return self.schema.is_sub_type(type_, runtime)
        return False

    def _included(self, selection: Any) -> bool:
        """@skip / @include: honoured when the condition is known; counted when it is not."""
        for directive in selection.directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                continue
            argument = next((a for a in directive.arguments or () if a.name.value == "if"), None)
            if argument is None:
                continue
            if isinstance(argument.value, VariableNode):
                condition = self.variables.get(argument.value.name.value)
            else:
                condition = value_from_ast_untyped(argument.value)
            if not isinstance(condition, bool):
                continue
            if (name == "skip" and condition) or (name == "include" and not condition):
                return False
        return True
