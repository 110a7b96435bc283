"""Reads template.yaml (CloudFormation short-form tags included) so local resources follow it."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def load_template(path: Path) -> dict[str, Any]:
    """The template as plain data; `!Ref X` becomes {"Ref": "X"}, `!GetAtt A.B` {"Fn::GetAtt": ["A", "B"]}."""
    import yaml  # dev/local dependency only: the deployed functions never read the template

    class Loader(yaml.SafeLoader):
        pass

    def construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        key = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
        return {key: value}

    Loader.add_multi_constructor("!", construct)
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.load(handle, Loader=Loader)  # noqa: S506 - SafeLoader subclass
    return data
