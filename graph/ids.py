"""Global ids: opaque ``base64url("Type:backend-id")`` strings, and what a backend id may be.

Here rather than in the schema package so that resolvers and actions (which never import the
schema) can read the ids their inputs carry.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

from graph.errors import Code, GraphError

__all__ = ["BACKEND_ID", "decode_global_id", "encode_global_id"]

# What a backend id may look like: no commas (TMF's OR separator), spaces or slashes.
BACKEND_ID: Final = re.compile(r"[A-Za-z0-9._:@-]{1,128}")


def encode_global_id(type_name: str, tmf_id: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{tmf_id}".encode()).decode().rstrip("=")


def decode_global_id(global_id: str) -> tuple[str, str]:
    """(type name, backend id); BAD_USER_INPUT for anything that is not one of our ids."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        type_name, _, tmf_id = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise GraphError("Malformed id.", Code.BAD_USER_INPUT) from None
    if not type_name or not BACKEND_ID.fullmatch(tmf_id):
        raise GraphError("Malformed id.", Code.BAD_USER_INPUT)
    return type_name, tmf_id
