"""Verification of an order's hash chain: every hash recomputed, every link checked.

The chain of one order is: export v1, the acknowledgements recorded against v1 (each
naming the hash of the entry before it), export v2 (naming v1's hash in `supersedes` and
the last acknowledgement's hash in `acknowledged`), and so on. Altering, removing or
inserting any entry breaks a link. What a chain alone cannot show is a truncated tail
(the newest entries removed): that is what the archive in S3, under Object Lock, is for.
"""

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


def verify_chain(documents: list[dict[str, Any]], acknowledgements: list[dict[str, Any]] = ()) -> ChainReport:  # type: ignore[assignment]
    """Check a whole chain, given as stored export and acknowledgement documents in any order."""
    ordered = sorted(documents, key=lambda doc: doc.get("version", 0))
    problems: list[str] = []
    answers: dict[Any, list[dict[str, Any]]] = {}
    for ack in acknowledgements:
        answers.setdefault(ack.get("export_version"), []).append(ack)
    known_versions = {document.get("version") for document in ordered}
    for version in sorted(set(answers) - known_versions, key=str):
        problems.append(f"acknowledgement(s) of version {version}, which is not in the chain")
    previous: dict[str, Any] | None = None
    previous_answers_link: dict[str, Any] | None = None
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
        if previous is not None:
            expected = previous_answers_link
            if document.get("acknowledged") != expected:
                problems.append(
                    f"{label}: names {_describe(document.get('acknowledged'))} of {previous.get('export_id')}, "
                    f"the chain holds {_describe(expected)}"
                )
        previous = document
        previous_answers_link = _check_answers(document, answers.get(document.get("version"), []), problems)
    order_id = ordered[0].get("order_id") if ordered else None
    return ChainReport(order_id=order_id, versions=len(ordered), problems=problems)


def _check_answers(export: dict[str, Any], answers: list[dict[str, Any]], problems: list[str]) -> dict[str, Any] | None:
    """Check the acknowledgements of one export version; return the link the next version must hold."""
    label = export.get("export_id")
    expected_previous = export.get("content_hash")
    ordered = sorted(answers, key=lambda ack: ack.get("sequence", 0))
    for expected_sequence, ack in enumerate(ordered, start=1):
        name = f"{label} acknowledgement {ack.get('sequence')}"
        if ack.get("sequence") != expected_sequence:
            problems.append(f"{name}: expected sequence {expected_sequence}")
        body = {key: value for key, value in ack.items() if key != "content_hash"}
        if content_hash(body) != ack.get("content_hash"):
            problems.append(f"{name}: content_hash does not match its content (altered after it was recorded)")
        if ack.get("previous_hash") != expected_previous:
            problems.append(f"{name}: does not follow the entry before it (previous_hash differs)")
        expected_previous = ack.get("content_hash")
    if not ordered:
        return None
    return {"count": len(ordered), "last_hash": ordered[-1].get("content_hash")}


def _describe(link: dict[str, Any] | None) -> str:
    return "no acknowledgement" if not link else f"{link.get('count')} acknowledgement(s) ending {str(link.get('last_hash'))[:12]}"
