"""Verification of an order's export chain: every hash recomputed, every link checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meshline.domain.exports import content_hash


@dataclass(frozen=True)
class ChainReport:
    order_id: str | None
    versions: int
    problems: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return not self.problems


def verify_chain(documents: list[dict[str, Any]]) -> ChainReport:
    """Check a whole chain, given as stored export documents in any order."""
    ordered = sorted(documents, key=lambda doc: doc.get("version", 0))
    problems: list[str] = []
    previous: dict[str, Any] | None = None
    for expected_version, document in enumerate(ordered, start=1):
        label = document.get("export_id", f"version {document.get('version')}")
        if document.get("version") != expected_version:
            problems.append(f"{label}: expected version {expected_version}, found {document.get('version')}")
        body = {key: value for key, value in document.items() if key != "content_hash"}
        if content_hash(body) != document.get("content_hash"):
            problems.append(f"{label}: content_hash does not match its content (altered after it was sealed)")
        link = document.get("supersedes")
        if previous is None:
            if link is not None:
                problems.append(f"{label}: first version must supersede nothing")
        elif not link or link.get("export_id") != previous.get("export_id"):
            problems.append(f"{label}: does not supersede {previous.get('export_id')}")
        elif link.get("content_hash") != previous.get("content_hash"):
            problems.append(f"{label}: the hash it holds of {previous.get('export_id')} differs from that export's hash")
        previous = document
    order_id = ordered[0].get("order_id") if ordered else None
    return ChainReport(order_id=order_id, versions=len(ordered), problems=problems)
