"""Screenshots of the Dagster UI as a user sees it after `make demo` (and a backfill), in headless Chromium.

    make demo && .venv/bin/synth-pipelines backfill synth_pipelines/defs/datasets/demo_loans/defs.yaml --from D --to D
    .venv/bin/python scripts/ui_screenshots.py            # -> docs/screenshots/ui-*.png

It starts the real webserver on the instance in DAGSTER_HOME (default .dagster_home) and the storage in
SYNTH_PIPELINES_HOME (default .synth), waits until the code location serves its assets, and shoots each
page below. The pages are the ones issue 14 asks a person to look at: lineage, check descriptions and
their verdict metadata, column schema and lineage, the release's links, and the Backfills tab.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
DATASET = "demo_loans"
PAGES = {
    "ui-lineage": f"/asset-groups/{DATASET}",
    "ui-checks": f"/assets/{DATASET}/synthetic_features?view=checks",
    "ui-columns": f"/assets/{DATASET}/synthetic_features?view=overview",
    "ui-release": f"/assets/{DATASET}/published_features?view=overview",
    "ui-partitions": f"/assets/{DATASET}/published_features?view=partitions",
    "ui-backfills": "/overview/backfills",
}
READY_QUERY = "{ assetNodes { assetKey { path } } }"
BACKFILL_QUERY = "{ partitionBackfillsOrError(limit: 1) { ... on PartitionBackfills { results { id } } } }"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_served(url: str, process: subprocess.Popen, deadline_s: float) -> None:
    """Until the location answers with its asset nodes (the code server loads after the webserver)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"dagster-webserver exited with {process.returncode}")
        try:
            body = requests.post(f"{url}/graphql", json={"query": READY_QUERY}, timeout=30).json()
            if (body.get("data") or {}).get("assetNodes"):
                return
        except (requests.ConnectionError, requests.Timeout, ValueError):
            pass
        time.sleep(2)
    sys.exit(f"the location was not served within {deadline_s:.0f} s")


def shoot(url: str, target: Path, width: int, height: int, wait_ms: int) -> None:
    # --virtual-time-budget lets the single-page app fetch and render before the shot is taken.
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size={width},{height}", f"--virtual-time-budget={wait_ms}",
                    f"--screenshot={target}", url], check=True, capture_output=True, timeout=300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--width", type=int, default=1440)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--wait-ms", type=int, default=20000, help="virtual time each page gets to render")
    args = parser.parse_args()
    env = {**os.environ, "DAGSTER_HOME": os.environ.get("DAGSTER_HOME", str(ROOT / ".dagster_home")),
           "SYNTH_PIPELINES_HOME": os.environ.get("SYNTH_PIPELINES_HOME", str(ROOT / ".synth"))}
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    webserver = Path(sys.executable).parent / "dagster-webserver"
    process = subprocess.Popen([str(webserver), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_until_served(url, process, deadline_s=600)
        # The first-visit "join the community" dialog would cover every page; dismiss it as its Skip does.
        requests.post(f"{url}/graphql", json={"query": "mutation { setNuxSeen }"}, timeout=60).raise_for_status()
        args.out.mkdir(parents=True, exist_ok=True)
        pages = dict(PAGES)
        backfills = requests.post(f"{url}/graphql", json={"query": BACKFILL_QUERY}, timeout=60).json()
        newest = backfills["data"]["partitionBackfillsOrError"].get("results") or []
        if newest:  # the newest backfill's own page: its partitions and runs
            pages["ui-backfill-runs"] = f"/runs/b/{newest[0]['id']}"
        for name, page in pages.items():
            target = args.out / f"{name}.png"
            shoot(url + page, target, args.width, args.height, args.wait_ms)
            print(f"{target}  <- {page}")
    finally:
        process.terminate()
        process.wait(timeout=120)


if __name__ == "__main__":
    main()
