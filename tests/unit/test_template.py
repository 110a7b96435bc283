"""template.yaml invariants (DESIGN §1, §2): runtime, architecture, the shared layer's build."""

from __future__ import annotations

from relay.local.template import load_template
from tests.support import ROOT

TEMPLATE = load_template(ROOT / "template.yaml")


def test_functions_run_python313_on_arm64():
    # GIVEN the template's Globals
    function = TEMPLATE["Globals"]["Function"]
    # THEN every function defaults to python3.13 on arm64 with the core layer
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert {"Ref": "CoreLayer"} in function["Layers"]


def test_core_layer_is_built_from_layers_core_with_python313():
    # GIVEN the shared layer
    layer = TEMPLATE["Resources"]["CoreLayer"]
    # THEN SAM builds it from layers/core with BuildMethod python3.13 (not "python")
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/core/"
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert (ROOT / "layers" / "core" / "requirements.txt").is_file()
