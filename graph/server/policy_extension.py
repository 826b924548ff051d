"""Enforce the channel policy (:mod:`graph.auth.policy`) on every operation, before execution.

One schema extension, three moments of an operation:

- **operation start**: persisted queries (``extensions: {"persistedQuery": {"sha256Hash":
  …}}``, Apollo's APQ protocol, over POST and GET). A request with the id only gets the
  manifest's document, else -- except on trusted-only channels (kiosk, IVR), which run the
  manifest's documents only -- the one registered in the APQ store
  (:mod:`graph.stores.documents`); an unknown id (or the store not answering) is refused
  with ``PERSISTED_QUERY_NOT_FOUND``, and the client resends the document. A request with a
  document and an id is refused (``BAD_USER_INPUT``) unless the id is the document's sha256;
  the document is then judged like any other (its own text decides what is trusted) and,
  once it has passed every check and run (**execution end**), registered.
- **validation**: the checks that need no document -- the role on its channel, trusted
  operations on kiosk and IVR -- and, once the document has validated, the checks on what it
  asks. A refusal here *replaces* validation's answer, so a kiosk that sends its own
  document learns nothing about the schema from validation messages. (Placed after
  ``ValidationCache``, which validates before this extension's turn.)
- **execution start**: the same checks again if they could not all run at validation (no
  validation ran before this extension), with the operation's result set to the refusal, so
  execution never starts. This is the backstop for queries and mutations; subscriptions are
  covered by the validation-time check.

A refusal never reaches a resolver, so it costs no backend request. Its error carries
``extensions.code`` (see :mod:`graph.auth.policy` for which) and the numbers involved.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

import orjson
from graphql import DocumentNode, ExecutionResult, GraphQLError, GraphQLSchema
from strawberry.extensions import SchemaExtension

from graph.auth.policy import (
    OperationShape,
    Refusal,
    analyze,
    check_admission,
    check_operation,
    introspection_allowed,
    policy_for,
)
from graph.errors import Code, GraphError
from graph.operations import Manifest, document_id, manifest_at
from graph.schema.memo import DocumentMemo
from graph.stores.idempotency import StoreUnavailable

if TYPE_CHECKING:
    from graph.context import Context

__all__ = ["ChannelPolicyExtension", "persisted_query_id"]

log = logging.getLogger(__name__)

_NAME: Final = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,127}$")
# Operation shapes per parsed document, then per (operation, variables, page size).
_SHAPES: Final[DocumentMemo[bytes, OperationShape | None]] = DocumentMemo()


def _shape_of(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    page_size: int,
) -> OperationShape | None:
    """:func:`graph.auth.policy.analyze`, remembered (the walk costs ~0.5 ms a customer-360)."""
    try:
        key = orjson.dumps([operation_name, variables, page_size], option=orjson.OPT_SORT_KEYS)
    except TypeError:  # not plain JSON: not remembered
        return analyze(schema, document, operation_name, variables, page_size)
    return _SHAPES.get(
        schema,
        document,
        key,
        lambda: analyze(schema, document, operation_name, variables, page_size),
    )


_SHA256: Final = re.compile(r"^[0-9a-f]{64}$")


def persisted_query_id(operation_extensions: Any) -> str | None:
    """The manifest id a request names in ``extensions.persistedQuery.sha256Hash``, if any."""
    if not isinstance(operation_extensions, dict):
        return None
    persisted = operation_extensions.get("persistedQuery")
    if not isinstance(persisted, dict):
        return None
    sha = persisted.get("sha256Hash")
    return sha if isinstance(sha, str) else None


def _error(refusal: Refusal) -> GraphQLError:
    # The code is set here as well as by ErrorCodes, which does not see errors sent before
    # an operation ends (graphql-transport-ws sends pre-execution errors straight away).
    return GraphQLError(
        refusal.message,
        nodes=list(refusal.nodes) or None,
        original_error=GraphError(refusal.message, refusal.code),
        extensions={"code": refusal.code.value, **refusal.extensions},
    )


def _ran(result: Any) -> bool:
    """Whether execution ran the client's document: data, or only errors with a path (a
    refusal -- guardrail, policy -- has neither)."""
    if result is None or not hasattr(result, "data"):
        return False
    return result.data is not None or all(e.path for e in result.errors or ())


_SUGGESTION: Final = re.compile(r" Did you mean .*\?$")


class ChannelPolicyExtension(SchemaExtension):
    """Refuse, before execution, what the principal's channel does not allow."""

    def __init__(self) -> None:
        super().__init__()
        self._refusals: list[GraphQLError] | None = None  # decided: [] means allowed
        self._admission: list[GraphQLError] | None = None
        self._register: str | None = None  # an APQ id to keep the document under, once run

    async def on_operation(self) -> AsyncIterator[None]:
        ec = self.execution_context
        sha = persisted_query_id(ec.operation_extensions)
        if sha is not None and not ec.query and ec.graphql_document is None:
            document = await self._persisted(sha)
            if document is not None:
                ec.query = document
            else:
                self._refuse_instead(
                    "No operation is known by this id; send the document itself.",
                    Code.PERSISTED_QUERY_NOT_FOUND,
                    sha,
                )
        elif sha is not None and isinstance(ec.query, str):
            if document_id(ec.query) != sha:
                self._refuse_instead("provided sha does not match query", Code.BAD_USER_INPUT, sha)
            elif sha not in self._manifest():
                self._register = sha
        yield
        self._hide_suggestions()

    async def _persisted(self, sha: str) -> str | None:
        """The document named by ``sha``: the manifest's, else (not on trusted-only channels)
        the APQ store's. None when unknown, or when the store does not answer."""
        operation = self._manifest().get(sha)
        if operation is not None:
            return operation.document
        policy = policy_for(self._context().principal)
        if policy is None or policy.trusted_only or not _SHA256.match(sha):
            return None
        try:
            return await self._context().stores.documents.get(sha)
        except StoreUnavailable:
            return None  # a cache: the client sends the document instead

    def _refuse_instead(self, message: str, code: Code, sha: str) -> None:
        """Refuse the request at validation, with a stand-in document that parses and names
        the requested operation (nothing of the client's text is parsed)."""
        ec = self.execution_context
        name = ec.operation_name
        name = name if name and _NAME.match(name) else "Unknown"
        ec.query = f"query {name} {{ __typename }}"
        ec.graphql_document = None
        refusal = Refusal(message, code, {"sha256Hash": sha[:64]})
        self._admission = self._refusals = [_error(refusal)]

    def _hide_suggestions(self) -> None:
        """Validation's "Did you mean …?" names fields and types: where introspection is off
        for the caller, that would leak the schema one guess at a time."""
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        context = self._context()
        policy = policy_for(context.principal)
        if policy is not None and introspection_allowed(
            context.principal, policy,
            development=context.settings.dev_idp, configured=context.settings.introspection,
        ):  # fmt: skip
            return
        for error in result.errors:
            if _SUGGESTION.search(error.message):
                error.message = _SUGGESTION.sub("", error.message)

    def on_validate(self) -> Iterator[None]:
        ec = self.execution_context
        admission = self._admitted()
        if not admission and ec.pre_execution_errors is None and ec.graphql_document is not None:
            # Not validated yet (no ValidationCache: the stock path): validate here, once --
            # strawberry then skips its own -- so that the checks below run before anything
            # does; a subscription has no execution-start backstop.
            from strawberry.schema.schema import validate_document  # (a circular import)

            ec.pre_execution_errors = validate_document(
                ec.schema._schema, ec.graphql_document, ec.validation_rules
            )
        if admission:
            ec.pre_execution_errors = admission
        elif ec.pre_execution_errors == []:  # validated (by ValidationCache or here), valid
            refusals = self._decide()
            if refusals:
                ec.pre_execution_errors = refusals
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        refusals = self._decide()
        if refusals:
            ec.result = ExecutionResult(data=None, errors=refusals)
        yield
        if self._register is not None and not refusals and _ran(ec.result):
            await self._keep(self._register)

    async def _keep(self, sha: str) -> None:
        """Register the document that just ran under its id (APQ). Every guardrail has passed
        by now: a refused document never gets here."""
        query = self.execution_context.query
        if not isinstance(query, str):
            return
        try:
            if not await self._context().stores.documents.put(sha, query):
                log.debug("persisted queries: %s not kept (too large)", sha)
        except StoreUnavailable:
            pass  # logged by the store; the client keeps sending the document

    def _context(self) -> Context:
        context: Context = self.execution_context.context
        return context

    def _manifest(self) -> Manifest:
        # The packaged manifest, or the deployment's own (CSM_OPERATIONS_MANIFEST).
        return manifest_at(self._context().settings.operations_manifest)

    def _admitted(self) -> list[GraphQLError]:
        if self._admission is None:
            principal = self._context().principal
            policy = policy_for(principal)
            query = self.execution_context.query
            trusted = (
                policy is not None
                and policy.trusted_only  # only hashed where it matters
                and isinstance(query, str)
                and self._manifest().trusts(query, principal.channel)
            )
            refusal = check_admission(principal, policy, trusted=trusted)
            self._admission = [_error(refusal)] if refusal is not None else []
        return self._admission

    def _decide(self) -> list[GraphQLError]:
        if self._refusals is not None:
            return self._refusals
        admission = self._admitted()
        if admission:
            self._refusals = admission
            return admission
        ec = self.execution_context
        context = self._context()
        principal, settings = context.principal, context.settings
        policy = policy_for(principal)
        assert policy is not None  # admitted
        assert ec.graphql_document is not None  # parsed and validated by now
        shape = _shape_of(
            ec.schema._schema,
            ec.graphql_document,
            ec.operation_name,
            ec.variables,
            settings.max_page_size,
        )
        if shape is None:  # no such operation: execution reports it
            self._refusals = []
            return self._refusals
        introspection = introspection_allowed(
            principal,
            policy,
            development=settings.dev_idp,
            configured=settings.introspection,  # CSM_INTROSPECTION: True, False or None
        )
        refusals = check_operation(principal, policy, shape, introspection=introspection)
        self._refusals = [_error(r) for r in refusals]
        return self._refusals
