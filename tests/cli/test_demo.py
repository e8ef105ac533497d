"""`retention demo` end to end on the embedded pipeline: a shop-like history whose KPIs land
in the sources' ranges, the model fitted part-way so `low_p_alive` fires, and the list of
whom to call."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _value(output: str, kpi: str) -> str:
    match = re.search(rf"^{kpi}\s+(\S+)", output, flags=re.M)
    assert match is not None, kpi
    return match.group(1)


def test_demo_looks_like_a_shop(tmp_path: Path) -> None:
    """Exit 0; repeat purchase rate inside 19.87-39.6%, churn far above zero, historic CLV
    defined; the fit ran mid-stream and low_p_alive alerts followed; the at-risk list has
    customers with a value at risk."""
    # A process of its own: the demo opens its chDB folder, and chDB allows one per process.
    done = subprocess.run(
        [sys.executable, "-m", "retention.cli.main", "demo", "--customers", "1000",
         "--keep", str(tmp_path / "demo"), "--timeout", "300"],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "stream paused: retention model fit --as-of" in done.stderr
    assert "stored model v1" in done.stderr
    rpr = float(_value(out, "repeat_purchase_rate").rstrip("%"))
    assert 19.87 <= rpr <= 39.6, out
    assert float(_value(out, "churn_rate").rstrip("%")) > 20, out
    assert _value(out, "clv_historic") != "n/a"
    assert int(_value(out, r"churn-risk\s+low_p_alive")) > 0, out
    whom = out.split("Whom to call today")[1].splitlines()[3:]
    assert len(whom) == 5 and all(re.match(r"cust-\d+\s+\d+\.\d+", line) for line in whom), whom
