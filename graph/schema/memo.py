"""What is worked out once per parsed document: remembered with the document itself.

Clients send the same few documents, and the parser cache hands back the same ``DocumentNode``
for the same text, so an analysis of a document (its policy shape, its projection plan) can be
kept by the document object's identity. The document is held with its entry, so that its id
cannot be reused by another while the entry lives; graphql-core's own hash of a document walks
the whole tree, which is why identity, not equality, is the key. Without the parser cache
(``CSM_OPTIMIZATIONS=0``) every request parses anew and nothing repeats: the memo then only
costs its bounded size.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from graphql import DocumentNode, GraphQLSchema

__all__ = ["DocumentMemo"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class DocumentMemo(Generic[K, V]):
    """Values per (schema, document object), then per ``key``: at most ``documents``
    documents, least recently used dropped first, and ``per_document`` keys each."""

    def __init__(self, documents: int = 256, per_document: int = 256) -> None:
        self.documents, self.per_document = documents, per_document
        self._held: OrderedDict[tuple[int, int], tuple[GraphQLSchema, DocumentNode, dict[K, V]]] = (
            OrderedDict()
        )

    def get(
        self, schema: GraphQLSchema, document: DocumentNode, key: K, compute: Callable[[], V]
    ) -> V:
        """The value remembered for ``key`` of this document, or ``compute()``'s, kept."""
        slot = (id(schema), id(document))
        held = self._held.get(slot)
        if held is None or held[0] is not schema or held[1] is not document:
            held = self._held[slot] = (schema, document, {})
            while len(self._held) > self.documents:
                self._held.popitem(last=False)
        else:
            self._held.move_to_end(slot)
        values = held[2]
        if key not in values:
            if len(values) >= self.per_document:
                values.clear()
            values[key] = compute()
        return values[key]
