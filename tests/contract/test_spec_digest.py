"""The committed spec digest is what scripts/make_spec_digest.py makes from
Klaviyo's OpenAPI spec today, so the sandbox checks what the spec says."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
from tests.contract.spec_check import load_spec, spec_missing_reason

import klaviyo_connector.sandbox

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_spec_digest.py"
DIGEST = Path(klaviyo_connector.sandbox.__file__).parent / "spec_digest.json"


def digest_script() -> ModuleType:
    found = importlib.util.spec_from_file_location("make_spec_digest", SCRIPT)
    assert found is not None
    assert found.loader is not None
    module = importlib.util.module_from_spec(found)
    found.loader.exec_module(module)
    return module


def test_committed_digest_matches_the_spec() -> None:
    spec = load_spec()
    if spec is None:
        pytest.skip(spec_missing_reason())
    fresh = digest_script().build(spec)
    committed = json.loads(DIGEST.read_text())
    assert fresh == committed, (
        "spec_digest.json is out of date: run "
        "python scripts/make_spec_digest.py path/to/stable.json"
    )
