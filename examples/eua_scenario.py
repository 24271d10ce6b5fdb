"""Build a simulator scenario from the real EUA base stations in Melbourne's CBD.

Source: the EUA data set (Edge User Allocation, Lai et al., ICSOC 2018; MIT; the site data
belongs to ACMA), read from ``../shared/data/eua/`` at run time and never copied into the package.
Each of the 125 Optus sites becomes one MEC node at its real coordinates. The data set has no
capacities, costs or latencies, so this script ASSUMES, for every site:

- a small MEC host: 8 vCPU, 16 GB memory, 500 GB storage, 10 Gbit/s, x86_64;
- the 5G slices ``urllc`` and ``embb``, and the wasm/process/container runtimes;
- a cost of 0.90 USD per hour.

User populations are the data set's 816 generated CBD users, snapped to a ~100 m grid (weight =
users per cell) so the file stays small.

    python examples/eua_scenario.py [--data ../shared/data/eua] [--out eua-melbourne.yaml]
    edgeorch simulate --scenario eua-melbourne.yaml --token ...
"""

import argparse
import csv
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ASSUMED_CAPACITY = {"cpu": 8, "memory_mb": 16384, "storage_gb": 500, "bandwidth_mbps": 10000}
ASSUMED_COST_PER_HOUR = 0.90
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "eua"
GRID_DEGREES = 0.001  # ~100 m north-south at Melbourne's latitude


def nodes(sites_csv: Path) -> list[dict[str, Any]]:
    """One MEC node spec per EUA site, with the assumed capacity."""
    with sites_csv.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        {
            "name": f"eua-optus-{row['SITE_ID']}",
            "labels": {"eua.site-id": row["SITE_ID"], "source": "eua"},
            "edge_type": "mec",
            "region": "au-southeast",
            "zone": "melbourne-cbd",
            "location": {"latitude": float(row["LATITUDE"]), "longitude": float(row["LONGITUDE"])},
            "country": "AU",
            "capacity": ASSUMED_CAPACITY,
            "capabilities": ["container_runtime", "process_runtime", "wasm_runtime"],
            "network_slices": ["urllc", "embb"],
            "cost_per_hour": ASSUMED_COST_PER_HOUR,
        }
        for row in rows
    ]


def users(users_csv: Path) -> list[dict[str, float]]:
    """User points on a ~100 m grid, weighted by how many users fall in each cell."""
    cells: Counter[tuple[float, float]] = Counter()
    with users_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            lat = round(float(row["Latitude"]) / GRID_DEGREES) * GRID_DEGREES
            lon = round(float(row["Longitude"]) / GRID_DEGREES) * GRID_DEGREES
            cells[(round(lat, 4), round(lon, 4))] += 1
    return [
        {"latitude": lat, "longitude": lon, "weight": float(n)}
        for (lat, lon), n in sorted(cells.items())
    ]


def build(data_dir: Path) -> dict[str, Any]:
    """The whole scenario as a mapping."""
    return {
        "nodes": nodes(data_dir / "site-optus-melbCBD.csv"),
        "users": users(data_dir / "users-melbcbd-generated.csv"),
    }


def main() -> None:
    """Write the scenario file and say what it assumed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path("eua-melbourne.yaml"))
    args = parser.parse_args()
    scenario = build(args.data)
    args.out.write_text(yaml.safe_dump(scenario, sort_keys=False))
    print(
        f"wrote {args.out}: {len(scenario['nodes'])} EUA sites as MEC nodes, "
        f"{len(scenario['users'])} user cells. Assumed per site: {ASSUMED_CAPACITY}, "
        f"slices urllc+embb, {ASSUMED_COST_PER_HOUR} USD/h (the data set has no capacities)."
    )


if __name__ == "__main__":
    main()
