// A real OpenID Connect provider (node oidc-provider) on loopback, for tests/test_oidc.py and
// tests/test_oidc_explorer.py. Configured by one JSON argument:
// {port, issuer, jwks, clients: [{client_id, client_secret, audience, roles, ttl}],
//  interactive: [{client_id, client_secret?, redirect_uri, tamper_id_token?}], accounts: {login: {roles?}}}.
// Each of "clients" gets JWT access tokens for its audience through the client credentials grant; a
// client with "roles" gets them in a "roles" claim, one without gets no such claim.
// Each of "interactive" signs browsers in with the authorization code flow (PKCE required): its
// redirect URI on 127.0.0.1 at any port (a native client, RFC 8252), a confidential client with a
// secret or a public one without. The login form is oidc-provider's own development form (any
// password) and its consent form; the ID token carries the account's "roles" from "accounts" (none
// for a login not there, or without roles). With tamper_id_token, the token endpoint's
// answer carries the ID token with one character of its signature changed.
// Prints "ready" once listening.
import Provider from "oidc-provider";

const settings = JSON.parse(process.argv[2]);
const clients = Object.fromEntries(settings.clients.map((client) => [client.client_id, client]));
const interactive = settings.interactive ?? [];
const tampered = new Set(interactive.filter((client) => client.tamper_id_token).map((client) => client.client_id));
const accounts = settings.accounts ?? {};

const provider = new Provider(settings.issuer, {
  clients: [
    ...settings.clients.map(({ client_id, client_secret }) => ({
      client_id,
      client_secret,
      grant_types: ["client_credentials"],
      redirect_uris: [],
      response_types: [],
    })),
    ...interactive.map(({ client_id, client_secret, redirect_uri }) => ({
      client_id,
      ...(client_secret ? { client_secret } : { token_endpoint_auth_method: "none" }),
      application_type: "native",
      grant_types: ["authorization_code"],
      response_types: ["code"],
      redirect_uris: [redirect_uri],
    })),
  ],
  jwks: settings.jwks,
  claims: { openid: ["sub", "roles"] },
  conformIdTokenClaims: false,
  findAccount: (ctx, sub) => ({
    accountId: sub,
    claims: () => ({ sub, ...(accounts[sub]?.roles ? { roles: accounts[sub].roles } : {}) }),
  }),
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, client) => clients[client.clientId]?.audience,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource, client) => ({
        scope: "api",
        audience: clients[client.clientId].audience,
        accessTokenFormat: "jwt",
        accessTokenTTL: clients[client.clientId].ttl ?? 300,
      }),
    },
  },
  extraTokenClaims: (ctx, token) => {
    const roles = clients[token.clientId]?.roles;
    return roles === undefined ? {} : { roles };
  },
});

provider.use(async (ctx, next) => {
  await next();
  const client = ctx.oidc?.client?.clientId;
  if (ctx.path === "/token" && tampered.has(client) && typeof ctx.body?.id_token === "string") {
    const token = ctx.body.id_token;
    const last = token.at(-2) === "A" ? "B" : "A"; // the signature's second-to-last character: always significant
    ctx.body = { ...ctx.body, id_token: `${token.slice(0, -2)}${last}${token.at(-1)}` };
  }
});

provider.on("server_error", (ctx, error) => console.error("server_error", error)); // run it by hand to read them

provider.listen(settings.port, "127.0.0.1", () => console.log("ready"));
