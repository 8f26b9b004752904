import tiercube

with tiercube.Session.start() as session:          # the server is a child process
    sales = session.read_csv("sales.csv", keys=["id"])
    products = session.read_parquet("products.parquet", keys=["product"])
    sales.join(products)                            # star schema: sales.product -> products.product
    cube = session.create_cube(sales)               # a level per text or key column, SUM/MEAN per other number
    h = cube.hierarchies
    del h["region"], h["country"]
    h["geography"] = ["region", "country"]          # a country's parent is its region
    m = cube.measures
    m["margin"] = m["price.SUM"] - m["cost.SUM"]
    share = m["qty.SUM"] / tiercube.parent_value(m["qty.SUM"], "country")
    m.set("share of region", share, format=tiercube.Format.percent(1))   # kept on the server: shows as 37.2%
    europe = cube.levels["region"] == "Europe"
    result = cube.query("qty.SUM", "margin", "share of region", levels=["region", "country"], filter=europe)
    print(tiercube.show(result))                     # an aligned grid; result itself is a pyarrow.Table
