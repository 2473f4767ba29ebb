"""Domain errors. Each message says what was wrong and, where it helps, what to do."""


class MeshlineError(Exception):
    """Base of every error the domain raises on purpose."""


class InvalidOrder(MeshlineError):
    """A webhook body could not be turned into a canonical order; the message names the field."""


class InvalidExport(MeshlineError):
    """An export failed validation against its JSON Schema; it must be quarantined, never published."""

    def __init__(self, export_id: str, errors: list[str]):
        self.export_id = export_id
        self.errors = errors
        super().__init__(f"export {export_id} is invalid: " + "; ".join(errors))


class BrokenChain(MeshlineError):
    """An export's version chain or hash does not verify."""
