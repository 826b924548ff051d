"""Placeholder until the domain lands."""

__all__: list[str] = []
