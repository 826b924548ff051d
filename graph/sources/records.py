"""Shapes shared by many TMF resources (references, money, periods, notes)."""

from __future__ import annotations

from typing import Any, TypedDict

__all__ = ["Characteristic", "ContactMedium", "Money", "Note", "Ref", "TimePeriod"]

# TMF names with "@" cannot be class attributes; the functional syntax keeps them exact.
Ref = TypedDict(
    "Ref",
    {"id": str, "href": str, "name": str, "role": str, "@referredType": str},
    total=False,
)


class Money(TypedDict, total=False):
    unit: str
    value: float


class TimePeriod(TypedDict, total=False):
    startDateTime: str
    endDateTime: str


class Note(TypedDict, total=False):
    id: str
    author: str
    date: str
    text: str


class Characteristic(TypedDict, total=False):
    name: str
    value: Any
    valueType: str


class ContactMedium(TypedDict, total=False):
    mediumType: str
    preferred: bool
    characteristic: dict[str, Any]
    validFor: TimePeriod
