"""Trusted operations: the manifest of documents that kiosk and IVR clients may run."""

from graph.operations.manifest import (
    MANIFEST_PATH,
    Manifest,
    ManifestError,
    TrustedOperation,
    add_operation,
    document_id,
    load_manifest,
    manifest_at,
    verify_manifest,
)

__all__ = [
    "MANIFEST_PATH",
    "Manifest",
    "ManifestError",
    "TrustedOperation",
    "add_operation",
    "document_id",
    "load_manifest",
    "manifest_at",
    "verify_manifest",
]
