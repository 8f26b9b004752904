// A real OpenID Connect provider (node oidc-provider) on loopback, for tests/test_oidc.py.
// Configured by one JSON argument: {port, issuer, jwks, clients: [{client_id, client_secret, audience, roles, ttl}]}.
// Each client gets JWT access tokens for its audience through the client credentials grant; a client
// with "roles" gets them in a "roles" claim, one without gets no such claim. Prints "ready" once listening.
import Provider from "oidc-provider";

const settings = JSON.parse(process.argv[2]);
const clients = Object.fromEntries(settings.clients.map((client) => [client.client_id, client]));

const provider = new Provider(settings.issuer, {
  clients: settings.clients.map(({ client_id, client_secret }) => ({
    client_id,
    client_secret,
    grant_types: ["client_credentials"],
    redirect_uris: [],
    response_types: [],
  })),
  jwks: settings.jwks,
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, client) => clients[client.clientId].audience,
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

provider.listen(settings.port, "127.0.0.1", () => console.log("ready"));
