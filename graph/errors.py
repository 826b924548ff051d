"""Errors a client may see, each with its ``extensions.code``; everything else is INTERNAL.

Backend failures map to BACKEND_UNAVAILABLE / BACKEND_TIMEOUT (or NOT_FOUND), never carrying
a backend URL or message; unexpected exceptions are logged under a correlation id and reach the
client as ``INTERNAL`` with that id only.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from enum import StrEnum
from typing import Any, Final

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult

from .sources import BackendNotFound, BackendRejected, BackendTimeout, BackendUnavailable
from .sources.identity import current_identity

__all__ = ["Code", "ErrorCodes", "GraphError", "classify", "coded", "redact"]

log = logging.getLogger("graph.errors")


class Code(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    BACKEND_UNAVAILABLE = "BACKEND_UNAVAILABLE"
    BACKEND_TIMEOUT = "BACKEND_TIMEOUT"
    RATE_LIMITED = "RATE_LIMITED"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    OPERATION_NOT_ALLOWED = "OPERATION_NOT_ALLOWED"
    INTERNAL = "INTERNAL"


class GraphError(Exception):
    """An error meant for the client: its message is shown, with its code."""

    def __init__(self, message: str, code: Code) -> None:
        super().__init__(message)
        self.code = code


# Long digit runs (spaces, dots, slashes, dashes between digits allowed): card numbers, IBANs,
# account numbers. graphql-core quotes the offending input value in its coercion messages.
_NUMBERS: Final = re.compile(r"\d(?:[\s./_-]{0,2}\d){7,}")


def redact(message: str) -> str:
    """A message without the long numbers it quoted (an input's card number or IBAN must not
    come back in an error, nor reach a log through one)."""
    return _NUMBERS.sub("[redacted]", message)


def classify(error: GraphQLError) -> tuple[Code, str]:
    """The code and the client-safe message for an error."""
    original = error.original_error
    if original is None:
        if error.path is None:  # parse / validation / variables
            return Code.BAD_USER_INPUT, redact(error.message)
        return Code.INTERNAL, "Internal error."  # e.g. a backend value the schema cannot serialize
    if isinstance(original, GraphError):
        return original.code, str(original)
    if isinstance(original, BackendTimeout):
        return Code.BACKEND_TIMEOUT, f"The {original.api} backend did not answer in time."
    if isinstance(original, BackendNotFound):
        return Code.NOT_FOUND, "Not found."
    if isinstance(original, BackendUnavailable):
        return Code.BACKEND_UNAVAILABLE, f"The {original.api} backend is unavailable."
    if isinstance(original, BackendRejected):
        return Code.BACKEND_UNAVAILABLE, f"The {original.api} backend refused the request."
    if isinstance(original, GraphQLError):
        if original.original_error is None and original.path is None and error.path is not None:
            return Code.INTERNAL, "Internal error."  # a nested serialization error
        return classify(original)
    return Code.INTERNAL, "Internal error."


def coded(error: GraphQLError, *, keep_original: bool = False) -> GraphQLError:
    """``error`` with its code and client-safe message; internal and backend failures are
    logged under the operation's correlation id. ``keep_original``: the cause stays attached
    (never sent), so that coding the error again gives the same answer -- and is not logged
    again (a subscription's error is coded as it is streamed, then with the operation)."""
    code, message = classify(error)
    extensions = dict(error.extensions or {})
    logged = "correlationId" in extensions  # coded (and logged) before
    extensions["code"] = code.value
    if (code is Code.INTERNAL or code.value.startswith("BACKEND_")) and not logged:
        # The operation's correlation id, as backends and the response header carry it.
        identity = current_identity()
        correlation = identity.correlation_id if identity else uuid.uuid4().hex
        extensions["correlationId"] = correlation
        log.error(
            "graphql error %s at %s: %r",
            correlation,
            error.path,
            error.original_error,
            exc_info=error.original_error,
        )
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error if keep_original else None,
        extensions=extensions,
    )


class ErrorCodes(SchemaExtension):
    """Give every error a code and a safe message; log what the client must not see -- for an
    operation's result, and for each result a subscription streams (graphql-transport-ws sends
    those as they are made, before the operation ends)."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        result.errors = [coded(error) for error in result.errors]

    def on_stream_result(self, result: Any) -> Iterator[None]:
        if isinstance(result, ExecutionResult) and result.errors:
            result.errors = [
                error if (error.extensions or {}).get("code") else coded(error, keep_original=True)
                for error in result.errors
            ]
        yield
