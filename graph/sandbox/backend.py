"""The sandbox's write path: every create, update and delete goes through here.

HTTP handlers and business rules alike write through :class:`Backend`, so that ids and hrefs are
minted one way, references are checked, rules run, and the matching TMF events are published
for every change, whoever caused it. Records are never mutated in place: an update stores a new
dict, so a published event or an in-flight response never sees a later change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .dataset import Dataset
from .errors import TmfError
from .events import EventHub
from .query import values_at
from .registry import COLLECTIONS, CollectionSpec
from .validation import merge_patch

if TYPE_CHECKING:
    from .rules import Rules

__all__ = ["Backend", "now_iso"]

Record = dict[str, Any]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Backend:
    def __init__(
        self,
        dataset: Dataset,
        hub: EventHub,
        base_url: str,
        rules: dict[str, Rules] | None = None,
        schedule: Callable[[float, Callable[[], None]], None] | None = None,
    ) -> None:
        self.dataset = dataset
        self.hub = hub
        self.base_url = base_url.rstrip("/")
        self.rules: dict[str, Rules] = rules or {}
        self._schedule = schedule

    def spec(self, name: str) -> CollectionSpec:
        return COLLECTIONS[name]

    def href(self, spec: CollectionSpec, record_id: str) -> str:
        return f"{self.base_url}{spec.path}/{record_id}"

    def later(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` after ``delay`` seconds (business processes that take time)."""
        if self._schedule is None:
            raise RuntimeError("no scheduler: the backend is not running in an app")
        self._schedule(delay, action)

    # -- reads -----------------------------------------------------------------------------

    def get(self, name: str, record_id: str) -> Record | None:
        return self.dataset.get(COLLECTIONS[name], record_id)

    def require(self, name: str, record_id: str) -> Record:
        record = self.get(name, record_id)
        if record is None:
            spec = COLLECTIONS[name]
            raise TmfError(404, "Not found", f"{spec.type_name} {record_id} does not exist")
        return record

    # -- writes ----------------------------------------------------------------------------

    def create(self, name: str, body: Record) -> Record:
        spec = COLLECTIONS[name]
        self.dataset.ensure_for_body(body)
        record_id = f"{spec.id_prefix}-n{uuid.uuid4().hex[:16]}"
        record: Record = {"id": record_id, "href": self.href(spec, record_id), **body}
        rules = self.rules.get(name)
        if rules is not None:
            record = rules.prepare_create(self, record)
        self.check_references(spec, record)
        if rules is not None:
            rules.validate_create(self, record)
        self.dataset[name].insert(record)
        self.hub.publish(spec, "Create", record)
        if rules is not None:
            rules.after_create(self, record)
        return record

    def update(self, name: str, record_id: str, patch: Record) -> Record:
        """Merge-patch a record; publishes state-change and attribute-change events."""
        spec = COLLECTIONS[name]
        current = self.require(name, record_id)
        self.dataset.ensure_for_body(patch)
        updated: Record = merge_patch(current, patch)
        rules = self.rules.get(name)
        if rules is not None:
            updated = rules.prepare_update(self, current, updated)
        self.check_references(spec, updated)
        self.dataset[name].replace(updated)
        self._publish_changes(spec, current, updated)
        if rules is not None:
            rules.after_update(self, current, updated)
        return updated

    def delete(self, name: str, record_id: str) -> Record:
        spec = COLLECTIONS[name]
        current = self.require(name, record_id)
        rules = self.rules.get(name)
        if rules is not None:
            rules.validate_delete(self, current)
        self.dataset[name].delete(record_id)
        self.hub.publish(spec, "Delete", current)
        return current

    def publish(self, name: str, kind: str, record: Record) -> None:
        self.hub.publish(COLLECTIONS[name], kind, record)

    def _publish_changes(self, spec: CollectionSpec, old: Record, new: Record) -> None:
        state = spec.state_field
        if state is not None and old.get(state) != new.get(state):
            self.hub.publish(spec, "StateChange", new)
        changed = {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
        if changed - {state, "lastUpdate", "statusChangeDate", "statusChange", "statusDate"}:
            self.hub.publish(spec, "AttributeValueChange", new)

    def check_references(self, spec: CollectionSpec, record: Record) -> None:
        """Every declared reference must name an existing record (422 otherwise)."""
        for ref in spec.references:
            *parent_path, key = ref.path.split(".")
            for parent in values_at(record, tuple(parent_path)):
                if not isinstance(parent, dict) or key not in parent:
                    continue
                if ref.referred_type and parent.get("@referredType") != ref.referred_type:
                    continue
                target_id = parent[key]
                if not isinstance(target_id, str) or self.get(ref.target, target_id) is None:
                    target = COLLECTIONS[ref.target].type_name
                    raise TmfError(
                        422, "Invalid reference", f"{target} {target_id!r} does not exist"
                    )
