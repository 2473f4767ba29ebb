"""The README's first command: the demo runs to the end and shows what it promises."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_runs_end_to_end_and_shows_a_rejection_and_reroute():
    # As a developer runs it: without the Powertools variables tests/conftest.py sets for the tests.
    env = {name: value for name, value in os.environ.items() if not name.startswith("POWERTOOLS_")}
    done = subprocess.run([sys.executable, "-m", "meshline_local", "demo"], cwd=ROOT, capture_output=True, text=True,
                          timeout=240, env=env)
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


def test_the_local_process_gives_powertools_the_template_s_globals():
    from meshline_local import LAMBDA_GLOBALS

    class Tags(yaml.SafeLoader):
        pass

    Tags.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=Tags)
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    assert {name: variables[name] for name in LAMBDA_GLOBALS} == LAMBDA_GLOBALS
