import type { Clock } from './clock.js';
import { createRandom, hash32, randomGuid } from './random.js';

export interface ClientCredential {
  clientId: string;
  clientSecret: string;
  /** The application user (systemuserid) the client's tokens act as. */
  userId: string;
}

export interface AuthSettings {
  tenantId: string;
  clients: ClientCredential[];
  /** Static bearer tokens mapped to systemuserids. */
  tokens: Record<string, string>;
  /** Lifetime of issued tokens, simulated seconds. Default 3599. */
  tokenLifetimeSeconds: number;
}

export interface Authenticator {
  readonly settings: AuthSettings;
  /** Token endpoint and discovery documents, or undefined if the path is not an auth path. */
  handle(request: Request, url: URL): Promise<Response | undefined>;
  /** The systemuserid a request's bearer token maps to, or undefined. */
  authenticate(request: Request): string | undefined;
  /** 401 as Dataverse sends it: no JSON body, a WWW-Authenticate challenge. */
  unauthorized(url: URL): Response;
  addClient(client: ClientCredential): void;
  addToken(token: string, userId: string): void;
}

const base64url = (value: string): string => Buffer.from(value).toString('base64url');

function aadError(status: number, error: string, description: string): Response {
  return new Response(JSON.stringify({ error, error_description: description, error_codes: [Number(/AADSTS(\d+)/.exec(description)?.[1] ?? 0)] }), {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8' },
  });
}

const json = (body: unknown): Response => new Response(JSON.stringify(body), { status: 200, headers: { 'Content-Type': 'application/json; charset=utf-8' } });

export function createAuthenticator(settings: AuthSettings, clock: Clock, seed: number, loginUrl: string): Authenticator {
  const issued = new Map<string, { userId: string; expiresAt: number }>();
  const random = createRandom(hash32(seed, 'access-tokens'));

  const openidConfiguration = (origin: string, tenant: string) => ({
    token_endpoint: `${origin}/${tenant}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${origin}/${tenant}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${origin}/${tenant}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${origin}/oidc/userinfo`,
    authorization_endpoint: `${origin}/${tenant}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${origin}/${tenant}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${origin}/${tenant}/oauth2/v2.0/logout`,
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid'],
    kerberos_endpoint: `${origin}/${tenant}/kerberos`,
    tenant_region_scope: 'EU',
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
    rbac_url: 'https://pas.windows.net',
  });

  const issueToken = async (request: Request, tenant: string): Promise<Response> => {
    const form = new URLSearchParams(await request.text());
    if (form.get('grant_type') !== 'client_credentials') {
      return aadError(400, 'unsupported_grant_type', `AADSTS70003: The app requested an unsupported grant type '${form.get('grant_type') ?? ''}'.`);
    }
    const clientId = form.get('client_id') ?? '';
    const client = settings.clients.find((candidate) => candidate.clientId === clientId);
    if (!client) {
      return aadError(400, 'unauthorized_client', `AADSTS700016: Application with identifier '${clientId}' was not found in the directory '${tenant}'.`);
    }
    if (form.get('client_secret') !== client.clientSecret) {
      return aadError(401, 'invalid_client', `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`);
    }
    const scope = form.get('scope') ?? '';
    const resource = scope.split(' ').find((entry) => entry.endsWith('/.default'));
    if (!resource) {
      return aadError(400, 'invalid_scope', `AADSTS1002012: The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
    }
    const now = Math.floor(clock.now() / 1000);
    const lifetime = settings.tokenLifetimeSeconds;
    const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid: 'simulator' }));
    const payload = base64url(
      JSON.stringify({
        aud: resource.slice(0, -'/.default'.length),
        iss: `https://sts.windows.net/${tenant}/`,
        iat: now,
        nbf: now,
        exp: now + lifetime,
        appid: clientId,
        oid: client.userId,
        tid: tenant,
        uti: randomGuid(random),
      }),
    );
    const token = `${header}.${payload}.${base64url(randomGuid(random))}`;
    issued.set(token, { userId: client.userId, expiresAt: clock.now() + lifetime * 1000 });
    return json({ token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: token });
  };

  return {
    settings,
    handle: async (request, url) => {
      const path = url.pathname;
      if (request.method === 'GET' && /^\/(common|organizations|[^/]+)\/discovery\/instance$/.test(path)) {
        const host = url.host;
        const tenant = settings.tenantId;
        return json({
          tenant_discovery_endpoint: `${url.origin}/${tenant}/v2.0/.well-known/openid-configuration`,
          'api-version': '1.1',
          metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
        });
      }
      const openid = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(path);
      if (request.method === 'GET' && openid) {
        if (openid[1] !== settings.tenantId) return aadError(400, 'invalid_tenant', `AADSTS90002: Tenant '${openid[1]}' not found.`);
        return json(openidConfiguration(url.origin, settings.tenantId));
      }
      const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(path);
      if (token) {
        if (request.method !== 'POST') return aadError(405, 'invalid_request', 'AADSTS900561: The endpoint only accepts POST requests.');
        if (token[1] !== settings.tenantId) return aadError(400, 'invalid_request', `AADSTS90002: Tenant '${token[1]}' not found.`);
        return issueToken(request, settings.tenantId);
      }
      return undefined;
    },
    authenticate: (request) => {
      const header = request.headers.get('Authorization');
      const match = header ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
      if (!match) return undefined;
      const token = match[1]!;
      const staticUser = settings.tokens[token];
      if (staticUser !== undefined) return staticUser;
      const entry = issued.get(token);
      if (!entry) return undefined;
      if (entry.expiresAt <= clock.now()) {
        issued.delete(token);
        return undefined;
      }
      return entry.userId;
    },
    unauthorized: (url) =>
      new Response(null, {
        status: 401,
        headers: {
          'WWW-Authenticate': `Bearer authorization_uri=${loginUrl}/${settings.tenantId}/oauth2/authorize, resource_id=${url.origin}/`,
        },
      }),
    addClient: (client) => {
      settings.clients.push(client);
    },
    addToken: (token, userId) => {
      settings.tokens[token] = userId;
    },
  };
}
