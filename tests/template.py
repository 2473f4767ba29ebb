"""template.yaml as plain data: each intrinsic function (`!Ref`, `!GetAtt`, `!Sub`, ...)
stands as its own argument (`!GetAtt ExportsTable.Arn` is "ExportsTable.Arn")."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("!", lambda loader, suffix, node: (
    loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode) else
    loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else loader.construct_mapping(node)))


def resources() -> dict:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=_Loader)["Resources"]


def statements(function: str) -> list[dict]:
    """The statements of a function's own inline policies (not those of managed policies it names)."""
    return [statement for policy in resources()[function]["Properties"]["Policies"] if isinstance(policy, dict)
            for statement in policy["Statement"]]


def actions(statement: dict) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
