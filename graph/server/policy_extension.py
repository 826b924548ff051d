"""Enforce the channel policy (:mod:`graph.auth.policy`) on every operation, before execution.

One schema extension, three moments of an operation:

- **operation start**: a request that sends no document but a manifest id
  (``extensions: {"persistedQuery": {"sha256Hash": …}}``) gets the manifest's document; an
  unknown id is refused with ``PERSISTED_QUERY_NOT_FOUND``. When a document is sent, its own
  text decides, whatever id comes with it.
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

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension

from graph.auth.policy import (
    Refusal,
    analyze,
    check_admission,
    check_operation,
    introspection_allowed,
    policy_for,
)
from graph.errors import Code, GraphError
from graph.operations import Manifest, manifest_at

if TYPE_CHECKING:
    from graph.context import Context

__all__ = ["ChannelPolicyExtension", "persisted_query_id"]

_NAME: Final = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,127}$")


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


_SUGGESTION: Final = re.compile(r" Did you mean .*\?$")


class ChannelPolicyExtension(SchemaExtension):
    """Refuse, before execution, what the principal's channel does not allow."""

    def __init__(self) -> None:
        super().__init__()
        self._refusals: list[GraphQLError] | None = None  # decided: [] means allowed
        self._admission: list[GraphQLError] | None = None

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        sha = persisted_query_id(ec.operation_extensions)
        if not ec.query and ec.graphql_document is None and sha is not None:
            operation = self._manifest().get(sha)
            if operation is not None:
                ec.query = operation.document
            else:
                # Something that parses and names the requested operation, so the request
                # reaches validation, where the refusal replaces it.
                name = ec.operation_name
                name = name if name and _NAME.match(name) else "Unknown"
                ec.query = f"query {name} {{ __typename }}"
                refusal = Refusal(
                    "No trusted operation has this id; send the document itself.",
                    Code.PERSISTED_QUERY_NOT_FOUND,
                    {"sha256Hash": sha[:64]},
                )
                self._admission = self._refusals = [_error(refusal)]
        yield
        self._hide_suggestions()

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
        if admission:
            ec.pre_execution_errors = admission
        elif ec.pre_execution_errors == []:  # validated already (ValidationCache), and valid
            refusals = self._decide()
            if refusals:
                ec.pre_execution_errors = refusals
        yield

    def on_execute(self) -> Iterator[None]:
        refusals = self._decide()
        if refusals:
            self.execution_context.result = ExecutionResult(data=None, errors=refusals)
        yield

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
        shape = analyze(
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
