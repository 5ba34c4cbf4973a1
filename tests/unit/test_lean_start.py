"""What the process that starts the actor system imports before it starts it: every actor inherits it."""

from __future__ import annotations

import subprocess
import sys

from edge.launch import MetricsSink
from supervision.metrics import MetricsDelta
from testkit.process import ROOT


def test_the_launcher_imports_none_of_the_edges_libraries() -> None:
    code = ("import sys, bot, edge.launch; "
            "print(','.join(m for m in ('discord', 'aiohttp', 'prometheus_client') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


class Counted:
    def __init__(self) -> None:
        self.applied: list[MetricsDelta] = []

    def apply(self, delta: MetricsDelta) -> None:
        self.applied.append(delta)


def test_metrics_that_arrive_before_the_registry_are_applied_once_in_order() -> None:
    sink, metrics = MetricsSink(), Counted()
    early, late = MetricsDelta((("a", (), 1.0),), ()), MetricsDelta((("b", (), 2.0),), ())
    sink.put(early)
    sink.attach(metrics)  # type: ignore[arg-type]
    sink.put(late)
    assert metrics.applied == [early, late]
