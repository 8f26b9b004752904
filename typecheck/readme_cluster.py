"""The README's example of tables on a Dask cluster. As the README shows it, from the blank line on (see readme_given.py)."""

import tiercube

scheduler = "tcp://127.0.0.1:8786"      # a scheduler's address, or a distributed.LocalCluster or Client

with tiercube.Session.start(cluster=scheduler) as session:
    sales = session.read_csv("sales.csv", keys=["id"], distributed=True)
    products = session.read_parquet("products.parquet", keys=["product"])   # dimensions stay on the server
    sales.join(products)
    cube = session.create_cube(sales)
    cube.query("qty.SUM", levels=["region"])   # the same code, the same results
    sales.partitions          # [Partition(worker='tcp://...', rows=..., bytes=...), ...]
    session.stats().cluster   # the workers, their memory (admins only)
