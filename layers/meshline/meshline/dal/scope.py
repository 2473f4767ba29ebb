"""For whom the data layer reads and writes: the one place tenant isolation is enforced.

Stores take a `Scope`. Meshline's own functions (decide, publish, sweep, ...) act for the
system and see every tenant. A store built for an API caller checks every tenant-keyed
read and write against the caller's tenants, and for a warehouse every export document
against the warehouses it names, before anything is returned; what is out of scope is
reported exactly like what does not exist, so no handler can forget the check and no
probe can tell the two apart (OWASP API1:2023).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from meshline.domain.access import Caller, NotVisible


@dataclass(frozen=True)
class Scope:
    caller: Caller | None = None

    @property
    def is_system(self) -> bool:
        return self.caller is None

    def require_tenant(self, tenant_id: str, missing: Callable[[], LookupError]) -> None:
        if self.caller is not None and not self.caller.can_see_tenant(tenant_id):
            raise missing()

    def sees(self, tenant_id: str, warehouses: Iterable[str]) -> bool:
        return self.caller is None or self.caller.can_see_warehouses(tenant_id, warehouses)

    def require_export(self, document: dict) -> dict:
        warehouses = [line.get("warehouse_id") for line in document.get("lines", []) if line.get("warehouse_id")]
        if not self.sees(document["tenant_id"], warehouses):
            raise NotVisible(f"export {document['export_id']}")
        return document


SYSTEM = Scope()


def order_not_found(tenant_id: str, order_id: str) -> Callable[[], LookupError]:
    return lambda: NotVisible(f"order {tenant_id}:{order_id}")
