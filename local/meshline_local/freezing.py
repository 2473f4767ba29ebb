"""freezegun for Meshline's tests and tools: every Meshline model built before the clock stops.

Meshline's models are built on first use (`meshline.domain.types.Model`, for cold starts),
and pydantic cannot build a schema while freezegun's FakeDatetime stands in for datetime
("Unable to generate pydantic-core schema for datetime"). So every model a frozen block
might meet is built first: all of Meshline's modules imported, every `Model` subclass
(handlers' own included, once imported) completed.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any


def build_models(import_all: bool = True) -> int:
    """Build every deferred model, of every meshline module (`import_all`) or of those already
    imported; returns how many were built."""
    import meshline
    from meshline.domain.types import Model

    for module in pkgutil.walk_packages(meshline.__path__, "meshline.") if import_all else ():
        importlib.import_module(module.name)
    built, pending = 0, list(Model.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if not model.__pydantic_complete__ or type(model.__pydantic_validator__).__name__ == "MockValSer":
            model.model_rebuild(force=True)
            built += 1
    return built


def freeze_time(*args: Any, **kwargs: Any) -> Any:
    """freezegun.freeze_time, after build_models()."""
    from freezegun import freeze_time as freezegun_freeze_time

    build_models()
    return freezegun_freeze_time(*args, **kwargs)
