// Signs in with the server's own users, or through the server's OpenID Connect provider; either way
// the server sets an HttpOnly session cookie.
const form = document.getElementById("sign-in");
const error = document.getElementById("error");
const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;

// Back from the provider and signed in: on to the explorer, at the view asked for before leaving
// (the address with the provider's code is replaced, not kept in the history).
const signedIn = meta("tiercube-signed-in");
if (signedIn) location.replace(`/${signedIn}`);

const provider = meta("tiercube-provider");
if (provider) {
  document.getElementById("provider-name").textContent = provider;
  const link = document.getElementById("provider");
  // The fragment never reaches the server: the view travels in the query, and comes back in the page.
  link.href = `/explorer/sign-in?with=oidc&view=${encodeURIComponent(location.hash.slice(1))}`;
  document.getElementById("with-provider").hidden = false;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const body = JSON.stringify({ username: form.username.value, password: form.password.value });
  const response = await fetch("/explorer/sign-in", { method: "POST", headers: { "content-type": "application/json" }, body, credentials: "same-origin" });
  if (response.ok) {
    location.assign(`/${location.hash}`); // the view the link before signing in asked for
    return;
  }
  let text = `${response.status} ${response.statusText}`;
  try {
    text = (await response.json()).message;
  } catch {
    // keep the status line
  }
  error.textContent = text;
  error.hidden = false;
});
