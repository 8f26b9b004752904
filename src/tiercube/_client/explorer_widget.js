// cube.explore(): the server's explorer in a notebook, every request carried by the kernel.
//
// The browser may not reach the server at all (a remote kernel: JupyterHub, SSH, Codespaces),
// so nothing here uses its address. The page, its scripts and styles and every API call go to
// the kernel as widget messages; the kernel makes them to the server with the widget's token,
// which never reaches the browser (explorer_relay.py). The page runs in a frame of its own
// (srcdoc: this page's origin) whose fetch() is that relay, with its modules loaded from blob:
// URLs, their imports pointed at one another's.

// What the framed page takes as its server's origin; never fetched: fetch() sends it to the kernel.
const SERVER = "https://tiercube.invalid";
const IMPORT = /(\bimport\s*(?:[\w$*{}\s,]+?\s*from\s*)?|\bexport\s*[\w$*{}\s,]+?\s*from\s*)(["'])([^"'\n]+)\2/g;
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

// The frame's first script: its fetch() is the relay, its address names the view to open.
const BOOT = "window.fetch = frameElement.tiercube.fetch(window); location.hash = frameElement.tiercube.view;";

class Relay {
  constructor(model) {
    this.model = model;
    this.next = 0;
    this.waiting = new Map();
    this.urls = [];
    this.listener = (message, buffers) => this.receive(message, buffers ?? []);
    model.on("msg:custom", this.listener);
  }

  receive(message, buffers) {
    const call = this.waiting.get(message.id);
    if (!call || (message.kind !== "part" && message.kind !== "fail")) return;
    if (message.kind === "fail") {
      this.waiting.delete(message.id);
      call.fail(message.message);
      return;
    }
    if (message.status !== undefined) call.head(message.status, message.headers);
    for (const buffer of buffers) {
      if (buffer.byteLength) call.data(new Uint8Array(buffer.buffer ?? buffer, buffer.byteOffset ?? 0, buffer.byteLength));
    }
    if (message.done) {
      this.waiting.delete(message.id);
      call.end();
    }
  }

  // fetch() for a window (this page's or the frame's): its Response and streams are made in
  // that window's realm, as the page's own code expects of them.
  fetcher(realm) {
    return (input, init = {}) =>
      new Promise((resolve, reject) => {
        const url = new URL(input instanceof realm.Request ? input.url : String(input), SERVER);
        if (url.origin !== SERVER) {
          reject(new realm.TypeError(`the notebook's explorer reaches only its own server, not ${url.origin}`));
          return;
        }
        if (init.body !== undefined && typeof init.body !== "string") {
          reject(new realm.TypeError("the notebook's explorer sends text bodies only"));
          return;
        }
        const id = ++this.next;
        let stream;
        const body = new realm.ReadableStream({
          start: (controller) => (stream = controller),
          cancel: () => this.abort(id),
        });
        const failed = (error) => {
          reject(error);
          try {
            stream.error(error);
          } catch {
            // already closed
          }
        };
        this.waiting.set(id, {
          head: (status, headers) => resolve(new realm.Response(NULL_BODY.has(status) ? null : body, { status, headers })),
          data: (chunk) => stream.enqueue(chunk),
          end: () => stream.close(),
          fail: (message) => failed(new realm.TypeError(message)), // as fetch() fails when there is no answer
        });
        init.signal?.addEventListener("abort", () => {
          this.abort(id);
          failed(new realm.DOMException("the request was aborted", "AbortError"));
        });
        const headers = Object.fromEntries(new realm.Headers(init.headers ?? {}));
        const content = init.body === undefined ? [] : [new TextEncoder().encode(init.body)];
        const request = { kind: "request", id, method: (init.method ?? "GET").toUpperCase(), path: url.pathname + url.search, headers };
        this.model.send(request, undefined, content);
      });
  }

  abort(id) {
    if (this.waiting.delete(id)) this.model.send({ kind: "abort", id });
  }

  close() {
    this.model.off("msg:custom", this.listener);
    for (const id of [...this.waiting.keys()]) this.abort(id);
    for (const url of this.urls) URL.revokeObjectURL(url);
  }

  // The page at ``path``, with its styles inline and its modules as blob: URLs, for a srcdoc.
  async page(path) {
    const fetch = this.fetcher(window);
    const text = async (path) => {
      const response = await fetch(path);
      if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
      return response.text();
    };
    const modules = new Map();
    const moduleUrl = (path) => {
      if (!modules.has(path)) modules.set(path, this.module(path, text, moduleUrl));
      return modules.get(path);
    };
    const doc = new DOMParser().parseFromString(await text(path), "text/html");
    doc.querySelectorAll('link[rel="modulepreload"], link[rel="preload"]').forEach((link) => link.remove());
    const styles = [...doc.querySelectorAll('link[rel="stylesheet"]')].map(async (link) => {
      const style = doc.createElement("style");
      style.textContent = await text(link.getAttribute("href"));
      link.replaceWith(style);
    });
    const scripts = [...doc.querySelectorAll("script[type=module][src]")].map(async (script) => {
      script.setAttribute("src", await moduleUrl(new URL(script.getAttribute("src"), SERVER).pathname));
    });
    await Promise.all([...styles, ...scripts]);
    doc.querySelector('meta[name="tiercube-embedded"]')?.setAttribute("content", "kernel");
    const boot = doc.createElement("script");
    boot.textContent = BOOT;
    doc.head.prepend(boot);
    return `<!doctype html>\n${doc.documentElement.outerHTML}`;
  }

  // One module as a blob: URL, its imports first; ``import.meta.url`` is its address on SERVER,
  // so that what it fetches beside itself (Perspective's wasm) goes through the relay too.
  async module(path, text, moduleUrl) {
    const source = await text(path);
    const imported = new Map();
    for (const [, , , specifier] of source.matchAll(IMPORT)) {
      const target = new URL(specifier, SERVER + path).pathname;
      imported.set(specifier, moduleUrl(target));
    }
    const urls = new Map();
    for (const [specifier, url] of imported) urls.set(specifier, await url);
    const rewritten = source
      .replace(IMPORT, (all, head, quote, specifier) => `${head}${quote}${urls.get(specifier)}${quote}`)
      .replaceAll("import.meta.url", JSON.stringify(SERVER + path));
    const url = URL.createObjectURL(new Blob([rewritten], { type: "text/javascript" }));
    this.urls.push(url);
    return url;
  }
}

async function render({ model, el }) {
  const relay = new Relay(model);
  const frame = document.createElement("iframe");
  frame.title = "tiercube explorer";
  frame.style.width = "100%";
  frame.style.border = "1px solid #d0d7de";
  const resize = () => (frame.style.height = `${model.get("height")}px`);
  resize();
  model.on("change:height", resize);
  frame.tiercube = { fetch: (realm) => relay.fetcher(realm), view: model.get("view") };
  el.appendChild(frame);
  try {
    frame.srcdoc = await relay.page(model.get("page"));
  } catch (error) {
    const message = document.createElement("p");
    message.setAttribute("role", "alert");
    message.textContent = `The explorer could not be loaded through the kernel: ${error.message}. Run cube.explore() again.`;
    frame.replaceWith(message);
  }
  return () => {
    model.off("change:height", resize);
    relay.close();
  };
}

export default { render };
