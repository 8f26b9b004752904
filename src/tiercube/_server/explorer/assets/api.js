// The explorer's side of the API: the same routes and grant as the Python client.
//
// Every request states the versions of the tiercube that served this page (the server
// judges the tier from them, as for any client). A signed-in browser is known by its
// HttpOnly cookie and proves the request comes from this page with the CSRF token;
// an embedded explorer sends its session token, which it read from its URL's fragment and
// removed from the address bar, and never the cookie: any page of the embedder's site could
// frame it, and would act as whoever signed in to the explorer in this browser. In a notebook
// widget ("kernel"), fetch() is the kernel's relay, which adds the widget's token itself.

const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;

export const SERVER_GONE = "The server is not answering: it has stopped or restarted, or the network is down. This page works again once it is back (reload it then).";

const NO_TOKEN = "This embedded explorer has no session token in its address: run cube.explore() again.";

// Rewrites the address's fragment only: in a widget's frame the address is about:srcdoc,
// against which a path (or a bare "#...", resolved against the notebook's page) is refused.
export function replaceFragment(fragment) {
  history.replaceState(null, "", `${location.href.split("#")[0]}${String(fragment) ? `#${fragment}` : ""}`);
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class Api {
  constructor() {
    this.version = meta("tiercube-version");
    this.protocol = meta("tiercube-protocol");
    this.embedded = meta("tiercube-embedded") !== "";
    this.relayed = meta("tiercube-embedded") === "kernel";
    this.credentials = this.embedded ? "omit" : "same-origin";
    // The fragment: a view to open (cube, rows, columns, measures, plugin) and, embedded, the token.
    const fragment = new URLSearchParams(location.hash.slice(1));
    this.token = fragment.get("token");
    fragment.delete("token");
    this.view = Object.fromEntries(fragment);
    if (this.token) replaceFragment(fragment);
    this.csrf = null;
    this.requests = 0;
  }

  headers(extra = {}) {
    const headers = { "tiercube-client-version": this.version, "tiercube-client-protocol": this.protocol, ...extra };
    if (this.token) headers["tiercube-explorer-token"] = this.token;
    else if (this.csrf) headers["tiercube-csrf"] = this.csrf;
    return headers;
  }

  async request(method, path, body) {
    if (this.embedded && !this.relayed && !this.token) throw new ApiError(401, "unauthenticated", NO_TOKEN);
    this.requests += 1;
    const init = { method, headers: this.headers(), credentials: this.credentials };
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch {
      // The browser says only "Failed to fetch": no answer at all, so the server is not there.
      throw new ApiError(0, "server_gone", SERVER_GONE);
    }
    if (response.ok) return response;
    let error = { code: "http", message: `${method} ${path}: ${response.status} ${response.statusText}` };
    try {
      error = await response.json();
    } catch {
      // not one of the server's error bodies (a proxy's page, say): keep the status line
    }
    if (response.status === 401 && !this.embedded) {
      location.assign("/explorer/sign-in");
    }
    throw new ApiError(response.status, error.code, error.message);
  }

  async json(method, path, body) {
    return (await this.request(method, path, body)).json();
  }

  async arrow(path, body) {
    return (await this.request("POST", path, body)).arrayBuffer();
  }

  async grant() {
    const grant = await this.json("GET", "/explorer/grant");
    this.csrf = grant.csrf;
    return grant;
  }

  async signOut() {
    await this.request("POST", "/explorer/sign-out");
    location.assign("/explorer/sign-in");
  }

  // Server-sent events, read with fetch (EventSource cannot send the headers above).
  // Reconnects after an error or when the server ends a stream; ``onReach(false)`` when the
  // server cannot be reached, ``onReach(true)`` when it can again. Returns a function that stops it.
  watch(onVersions, onReach = () => {}) {
    let stopped = false;
    let controller = null;
    const run = async () => {
      while (!stopped) {
        controller = new AbortController();
        try {
          const response = await fetch("/explorer/events", { headers: this.headers(), signal: controller.signal, credentials: this.credentials });
          if (!response.ok) throw new Error(`events: ${response.status}`);
          onReach(true);
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffered = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffered += value;
            let end;
            while ((end = buffered.indexOf("\n\n")) >= 0) {
              const event = buffered.slice(0, end);
              buffered = buffered.slice(end + 2);
              const data = event.split("\n").filter((line) => line.startsWith("data: ")).map((line) => line.slice(6)).join("\n");
              if (data) onVersions(JSON.parse(data).cubes);
            }
          }
        } catch (error) {
          if (stopped) return;
          if (error instanceof TypeError) onReach(false); // no answer at all (an HTTP error is an answer)
          else console.warn("explorer events:", error);
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    };
    run();
    return () => {
      stopped = true;
      controller?.abort();
    };
  }
}
