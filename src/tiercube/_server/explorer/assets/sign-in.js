// Signs in with the server's own users; the answer sets an HttpOnly session cookie.
const form = document.getElementById("sign-in");
const error = document.getElementById("error");

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
