"""``tiercube demo``: a session, sample data, a second process that connects and queries."""

from __future__ import annotations

import os
import random
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

REGIONS = ["Europe", "Americas", "Asia", "Africa", "Oceania"]
PRODUCTS = [f"product-{i:02d}" for i in range(20)]


def write_sample_csv(path: Path, rows: int) -> None:
    generator = random.Random(42)
    with path.open("w") as file:
        file.write("id,region,product,day,qty,price\n")
        for i in range(rows):
            day = f"2026-{generator.randint(1, 12):02d}-{generator.randint(1, 28):02d}"
            qty = generator.randint(1, 20)
            price = round(generator.uniform(1, 100), 2)
            file.write(f"{i},{generator.choice(REGIONS)},{generator.choice(PRODUCTS)},{day},{qty},{price}\n")


def run_demo(rows: int = 1000) -> None:
    import tiercube

    password = secrets.token_urlsafe(12)
    config = tiercube.SessionConfig(users=[tiercube.UserConfig(name="analyst", password=password, roles=["ROLE_ADMIN"])])
    with tempfile.TemporaryDirectory(prefix="tiercube-demo-") as directory, tiercube.Session.start(config) as session:
        print(f"started {session!r} (log: {session.logs_path})")
        csv = Path(directory, "sales.csv")
        write_sample_csv(csv, rows)
        sales = session.read_csv(csv, keys=["id"])
        print(f"loaded {sales.row_count} rows from {csv.name} into table {sales.name!r}: {sales.schema!r}")
        cube = session.create_cube(sales)
        measures = cube.measures
        measures.set("price per unit", measures["price.SUM"] / measures["qty.SUM"], format=tiercube.Format.currency("EUR"))
        print(f"created cube {cube.name!r} with measures {', '.join(cube.measures)}")
        print("\nconnecting from a second process as 'analyst'...", flush=True)
        environment = dict(os.environ, TIERCUBE_DEMO_PASSWORD=password)
        subprocess.run([sys.executable, "-m", "tiercube._demo", session.url], env=environment, check=True)
    print("\nsession closed, server stopped")


def client(url: str) -> None:
    """The second process: connect with credentials, show the tier, query."""
    import tiercube

    authentication = tiercube.BasicAuthentication("analyst", os.environ["TIERCUBE_DEMO_PASSWORD"])
    with tiercube.connect(url, authentication=authentication) as session:
        print(f"[client pid {os.getpid()}] connect() returned {type(session).__name__}")
        print(session.capabilities)
        cube = session.cubes["sales"]
        result = cube.query("qty.SUM", "price per unit", "contributors.COUNT", levels=["region"])
        print(f"\nquantity, price per unit and row count by region:\n{tiercube.show(result)}")
        in_europe = tiercube.level("region") == "Europe"
        europe = cube.query("qty.SUM", levels=["product"], filter=in_europe).slice(0, 5)
        print(f"\nfirst products in Europe:\n{tiercube.show(europe)}")


if __name__ == "__main__":
    client(sys.argv[1])
