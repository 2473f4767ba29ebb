"""Render an Amazon States Language definition the way CloudFormation would.

template.yaml wires each state machine with ``DefinitionUri`` + ``DefinitionSubstitutions``.
moto's CloudFormation creates such a state machine with an empty definition, so the local
stack and the tests create it through the Step Functions API instead, from the same
``statemachines/*.asl.json`` file, after replacing the ``${Name}`` placeholders here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

# CloudFormation's DefinitionSubstitutions syntax: ${Name}, Name being letters, digits and _.
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def render_definition(path: Path, substitutions: Mapping[str, str]) -> str:
    """The definition at ``path`` with every ``${Name}`` replaced by ``substitutions[Name]``.

    Raises ValueError naming every placeholder that has no value, rather than handing
    Step Functions a definition that still says ``${...}``.
    """
    text = Path(path).read_text(encoding="utf-8")
    missing = sorted({name for name in _PLACEHOLDER.findall(text) if name not in substitutions})
    if missing:
        names = ", ".join(f"${{{name}}}" for name in missing)
        raise ValueError(f"{path}: no substitution for placeholder(s) {names}")
    return _PLACEHOLDER.sub(lambda match: str(substitutions[match.group(1)]), text)
