// Arrow IPC from the server -> plain columns ({columns, schema, rows}), decoded by Perspective's
// own engine in ``worker``: the pages carry no other Arrow reader.
export async function decode(worker, buffer) {
  const table = await worker.table(buffer);
  const view = await table.view();
  const [columns, schema, rows] = [await view.to_columns(), await table.schema(), await table.size()];
  await view.delete();
  await table.delete();
  return { columns, schema, rows };
}
