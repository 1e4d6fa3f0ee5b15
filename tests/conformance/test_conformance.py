"""Conformance: our transport and the reference, through the same scenarios, side by side.

For each scenario in ``scenarios/``, the reference ``@openai/agents-realtime`` 0.20.0 runs
under node (``driver.mjs``) and ``harness.OpenAIRealtimeWebSocket`` runs here, each against
its own capture server on 127.0.0.1. The frames each sent (type, fields, order), the
handshake, the events each emitted and each call's outcome must be equal, except in the
scenarios that document a deliberate deviation, where they must differ.

The pinned package is installed with ``npm ci`` into ``tests/conformance/.node/``
(git-ignored) on first use. Skipped, with the reason, only where node or npm is absent.
"""

from __future__ import annotations

from typing import Any

import pytest
from conformance_runner import (
    NodeClient,
    PyClient,
    _differences,
    install_reference,
    load_scenarios,
    node_available,
    run_scenario,
)

pytestmark = pytest.mark.node

SCENARIOS = load_scenarios()


@pytest.fixture(scope="session")
def reference_installed() -> None:
    reason = node_available()
    if reason is not None:
        pytest.skip(reason)
    install_reference()


def test_there_are_enough_scenarios() -> None:
    assert len(SCENARIOS) >= 25


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
async def test_scenario(scenario: dict[str, Any], reference_installed: None) -> None:
    reference = await run_scenario(scenario, NodeClient())
    ours = await run_scenario(scenario, PyClient())
    differences = _differences(reference, ours)
    if scenario.get("deviation"):
        assert differences, (
            f"{scenario['name']} documents a deliberate deviation ({scenario['deviation']}), "
            "but the reference and ours now agree: update the scenario and the README"
        )
        elsewhere = [
            d for d in differences if not (d.startswith("$.connections[") and ".frames" in d)
        ]
        assert not elsewhere, (
            f"{scenario['name']}: the deviation should only change frames, but also\n  "
            + "\n  ".join(elsewhere)
        )
        return
    assert not differences, (
        f"{scenario['name']}: ours differs from the reference\n  " + "\n  ".join(differences)
    )
