"""Fixtures shared by every part's tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gpuguard.simulator.node import SimNode


@pytest.fixture
def sim_node(tmp_path: Path) -> Iterator[Callable[..., SimNode]]:
    """A factory of simulated nodes: `sim_node(profile="seed", speed=..., latency=...)`; torn down after."""
    nodes: list[SimNode] = []

    def factory(profile: str = "seed", **kwargs: Any) -> SimNode:
        node = SimNode.create(profile=profile, state_dir=tmp_path / f"sim-node-{len(nodes)}", **kwargs)
        nodes.append(node)
        return node

    yield factory
    for node in nodes:
        node.close()
