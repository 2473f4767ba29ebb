"""The README's first command: the demo runs to the end and shows what it promises."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_runs_end_to_end_and_shows_a_rejection_and_reroute():
    done = subprocess.run([sys.executable, "-m", "meshline_local", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "202  #1001: 2 tees: accepted" in out
    assert "401  a forged webhook" in out
    assert "202  the real WooCommerce sample (order.created, #727): accepted" in out
    assert "acme:woocommerce-727:v1  [route]  chain verified" in out
    assert "202  the real BigCommerce callback (store/order/created, order 250; read from the recorded store): accepted" in out
    assert "acme:bigcommerce-250:v1  [route]  chain verified" in out
    assert "lines        S-ORAN×1→west, ABS×1→west" in out
    assert "→ acme:shopify-1001:v2: warehouse east rejected line(s) 100101 (out_of_stock): re-route 1 of 2, 1 line(s) to west" in out
    assert "API 409        east answers the superseded acme:shopify-1001:v1" in out
    assert "chain BROKEN" not in out and "(MISSING)" not in out
    assert out.count("acme:shopify-1001:v2  [route]  chain verified") == 1
    assert "answer 2     west: shipped" in out
