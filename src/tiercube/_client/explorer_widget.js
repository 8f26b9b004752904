// cube.explore(): the server's explorer in a notebook, every request carried by the kernel.
//
// The browser may not reach the server at all (a remote kernel: JupyterHub, SSH, Codespaces),
// so nothing here uses its address. The page, its scripts and styles and every API call go to
// the kernel as widget messages; the kernel makes them to the server with the widget's token,
// which never reaches the browser (explorer_relay.py).
//
// The page runs in a sandboxed frame (srcdoc, scripts only: an origin of its own), never with the
// notebook's origin: what the server sends must not be able to reach the notebook, its kernels
// or its cookies. The frame gets the page's modules and a port to this relay by postMessage;
// its first script makes them blob: URLs, their imports pointed at one another's, and its
// fetch() a request over the port.

// What the framed page takes as its server's origin; never fetched: fetch() asks the kernel.
const SERVER = "https://tiercube.invalid";
const SANDBOX = "allow-scripts allow-downloads allow-forms";

// The frame's first script. A constant: no name or value from the server is ever written into it.
const BOOT = `(() => {
  const SERVER = ${JSON.stringify(SERVER)};
  const IMPORT = /(\\bimport\\s*(?:[\\w$*{}\\s,]+?\\s*from\\s*)?|\\bexport\\s*[\\w$*{}\\s,]+?\\s*from\\s*)(["'])([^"'\\n]+)\\2/g;
  const NULL_BODY = new Set([101, 103, 204, 205, 304]);
  let port = null;
  let next = 0;
  const waiting = new Map();
  const abort = (id) => { if (waiting.delete(id)) port.postMessage({ kind: "abort", id }); };
  // A sandboxed frame (an opaque origin) may not start a module worker from a blob: URL, and
  // Perspective's engine asks for one; its worker's script is a classic one, which may start.
  const ModuleWorker = Worker;
  window.Worker = class extends ModuleWorker { constructor(url, options = {}) { super(url, { ...options, type: "classic" }); } };
  window.fetch = (input, init = {}) => new Promise((resolve, reject) => {
    const url = new URL(input instanceof Request ? input.url : String(input), SERVER);
    if (url.origin !== SERVER) return reject(new TypeError("the notebook's explorer reaches only its own server, not " + url.origin));
    if (init.body !== undefined && typeof init.body !== "string") return reject(new TypeError("the notebook's explorer sends text bodies only"));
    const id = ++next;
    let stream;
    const body = new ReadableStream({ start: (controller) => (stream = controller), cancel: () => abort(id) });
    const failed = (error) => { reject(error); try { stream.error(error); } catch {} };
    waiting.set(id, {
      head: (status, headers) => resolve(new Response(NULL_BODY.has(status) ? null : body, { status, headers })),
      data: (chunk) => stream.enqueue(new Uint8Array(chunk)),
      end: () => stream.close(),
      fail: (message) => failed(new TypeError(message)),
    });
    init.signal?.addEventListener("abort", () => { abort(id); failed(new DOMException("the request was aborted", "AbortError")); });
    const headers = Object.fromEntries(new Headers(init.headers ?? {}));
    port.postMessage({ kind: "request", id, method: (init.method ?? "GET").toUpperCase(), path: url.pathname + url.search, headers, body: init.body });
  });
  function receive({ id, kind, status, headers, chunk, done, message }) {
    const call = waiting.get(id);
    if (!call) return;
    if (kind === "fail") { waiting.delete(id); call.fail(message); return; }
    if (status !== undefined) call.head(status, headers);
    if (chunk && chunk.byteLength) call.data(chunk);
    if (done) { waiting.delete(id); call.end(); }
  }
  // Every module a blob: URL of this frame, its imports first; import.meta.url its address on
  // SERVER, so that what it fetches beside itself (Perspective's wasm) goes through the port too.
  function link(modules, path, urls) {
    if (!urls.has(path)) {
      const source = modules[path]
        .replace(IMPORT, (all, head, quote, specifier) => head + quote + link(modules, new URL(specifier, SERVER + path).pathname, urls) + quote)
        .replaceAll("import.meta.url", JSON.stringify(SERVER + path));
      urls.set(path, URL.createObjectURL(new Blob([source], { type: "text/javascript" })));
    }
    return urls.get(path);
  }
  addEventListener("message", (event) => {
    if (event.source !== parent || port !== null || !(event.ports[0] instanceof MessagePort)) return;
    port = event.ports[0];
    port.onmessage = (answer) => receive(answer.data);
    location.hash = event.data.view;
    const script = document.createElement("script");
    script.type = "module";
    script.src = link(event.data.modules, event.data.entry, new Map());
    document.head.append(script);
  });
})();`;

const IMPORT = /(\bimport\s*(?:[\w$*{}\s,]+?\s*from\s*)?|\bexport\s*[\w$*{}\s,]+?\s*from\s*)(["'])([^"'\n]+)\2/g;

function joined(chunks) {
  const bytes = new Uint8Array(chunks.reduce((size, chunk) => size + chunk.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(new Uint8Array(chunk), at);
    at += chunk.byteLength;
  }
  return bytes;
}

// The kernel's side of the conversation: requests out as widget messages, answers back in parts.
class Relay {
  constructor(model) {
    this.model = model;
    this.next = 0;
    this.waiting = new Map(); // id -> onPart
    this.listener = (message, buffers) => this.receive(message, buffers ?? []);
    model.on("msg:custom", this.listener);
  }

  receive(message, buffers) {
    const onPart = this.waiting.get(message.id);
    if (!onPart || (message.kind !== "part" && message.kind !== "fail")) return;
    if (message.kind === "fail" || message.done) this.waiting.delete(message.id);
    const buffer = buffers[0];
    const chunk = buffer?.byteLength ? buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) : null;
    onPart({ ...message, chunk });
  }

  // Sends ``request`` ({method, path, headers, body}) to the kernel; ``onPart`` gets each part of
  // the answer ({kind, status, headers, chunk, done, message}). Returns the request's id.
  send(request, onPart) {
    const id = ++this.next;
    this.waiting.set(id, onPart);
    const content = request.body === undefined ? [] : [new TextEncoder().encode(request.body)];
    this.model.send({ kind: "request", id, method: request.method, path: request.path, headers: request.headers ?? {} }, undefined, content);
    return id;
  }

  abort(id) {
    if (this.waiting.delete(id)) this.model.send({ kind: "abort", id });
  }

  // The whole answer to GET ``path``, as text; an error unless it is a success.
  text(path) {
    return new Promise((resolve, reject) => {
      const chunks = [];
      let status = 0;
      this.send({ method: "GET", path }, (part) => {
        if (part.kind === "fail") return reject(new Error(part.message));
        if (part.status !== undefined) status = part.status;
        if (part.chunk) chunks.push(part.chunk);
        if (!part.done) return;
        const text = new TextDecoder().decode(joined(chunks));
        if (status >= 200 && status < 300) resolve(text);
        else reject(new Error(`${path}: ${status} ${text}`));
      });
    });
  }

  // The frame's requests, over ``port``: each carried to the kernel, its parts sent back.
  serve(port) {
    const ids = new Map(); // the frame's id -> ours
    port.onmessage = ({ data }) => {
      if (data.kind === "abort") {
        if (ids.has(data.id)) this.abort(ids.get(data.id));
        return;
      }
      const ours = this.send(data, (part) => {
        if (part.kind === "fail" || part.done) ids.delete(data.id);
        port.postMessage({ ...part, id: data.id }, part.chunk ? [part.chunk] : []);
      });
      ids.set(data.id, ours);
    };
  }

  close() {
    this.model.off("msg:custom", this.listener);
    for (const id of [...this.waiting.keys()]) this.abort(id);
  }

  // The page at ``path``, its styles inline and its module scripts taken out, with every module
  // it imports by path: {html, modules, entry}.
  async page(path) {
    const doc = new DOMParser().parseFromString(await this.text(path), "text/html");
    doc.querySelectorAll('link[rel="modulepreload"], link[rel="preload"]').forEach((link) => link.remove());
    const styles = [...doc.querySelectorAll('link[rel="stylesheet"]')].map(async (link) => {
      const style = doc.createElement("style");
      style.textContent = await this.text(link.getAttribute("href"));
      link.replaceWith(style);
    });
    const script = doc.querySelector("script[type=module][src]");
    const entry = new URL(script.getAttribute("src"), SERVER).pathname;
    script.remove();
    const modules = {};
    const load = async (module) => {
      if (module in modules) return;
      modules[module] = null; // asked for: each module is fetched once
      const source = await this.text(module);
      modules[module] = source;
      await Promise.all([...source.matchAll(IMPORT)].map((match) => load(new URL(match[3], SERVER + module).pathname)));
    };
    await Promise.all([...styles, load(entry)]);
    doc.querySelector('meta[name="tiercube-embedded"]')?.setAttribute("content", "kernel");
    const boot = doc.createElement("script");
    boot.textContent = BOOT;
    doc.head.prepend(boot);
    return { html: `<!doctype html>\n${doc.documentElement.outerHTML}`, modules, entry };
  }
}

async function render({ model, el }) {
  const relay = new Relay(model);
  const frame = document.createElement("iframe");
  frame.title = "tiercube explorer";
  frame.setAttribute("sandbox", SANDBOX);
  frame.style.width = "100%";
  frame.style.border = "1px solid #d0d7de";
  const resize = () => (frame.style.height = `${model.get("height")}px`);
  resize();
  model.on("change:height", resize);
  el.appendChild(frame);
  try {
    const { html, modules, entry } = await relay.page(model.get("page"));
    frame.addEventListener("load", () => {
      const channel = new MessageChannel();
      relay.serve(channel.port1);
      // "*": a sandboxed frame's origin is opaque; the port, not the origin, is what only it holds.
      frame.contentWindow.postMessage({ modules, entry, view: model.get("view") }, "*", [channel.port2]);
    }, { once: true });
    frame.srcdoc = html;
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
