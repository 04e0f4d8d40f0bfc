import { ConfidentialClientApplication, ServerError } from '@azure/msal-node';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import { SyncError } from '@crm-sync/core';
import type { EventSink } from './events.js';
import type { AuthOptions, FetchLike } from './options.js';
import type { Redactor } from './redact.js';

/** Hands out bearer tokens; `force` skips any cache (used once after an unexpected 401). */
export interface TokenProvider {
  getToken(force: boolean): Promise<string>;
}

/**
 * msal-node's network module on top of the adapter's fetch, so MSAL's calls go where the
 * adapter's go (MSW in tests, a proxy in production). MSAL expects parsed JSON bodies.
 */
export function fetchNetworkModule(fetchFn: FetchLike): INetworkModule {
  const send = async <T>(method: string, url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> => {
    const init: RequestInit = { method };
    if (options?.headers) init.headers = options.headers;
    if (options?.body !== undefined) init.body = options.body;
    const response = await fetchFn(url, init);
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => {
      headers[key] = value;
    });
    const text = await response.text();
    let body: unknown = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      // a non-JSON body (HTML error page) reaches MSAL as an empty object with its status
    }
    return { headers, body: body as T, status: response.status };
  };
  return {
    sendGetRequestAsync: (url, options) => send('GET', url, options),
    sendPostRequestAsync: (url, options) => send('POST', url, options),
  };
}

export interface TokenProviderInput {
  auth: AuthOptions;
  environmentUrl: string;
  fetch: FetchLike;
  redactor: Redactor;
  emit: EventSink;
}

export function createTokenProvider(input: TokenProviderInput): TokenProvider {
  const { auth, redactor } = input;
  // Report a token only when it is new (MSAL serves most calls from its cache).
  let last: string | null = null;
  const issued = (token: string, force: boolean): string => {
    redactor.add(token);
    if (token !== last) input.emit({ type: 'token', forced: force });
    last = token;
    return token;
  };
  if (auth.kind === 'static-token') {
    const source = auth.token;
    if (typeof source === 'string') redactor.add(source);
    return {
      async getToken(force) {
        const token = typeof source === 'string' ? source : await source(force);
        if (typeof token !== 'string' || token === '') {
          throw new SyncError('CRM_AUTH_FAILED', '[dynamics-adapter] The token provider returned no token');
        }
        return issued(token, force);
      },
    };
  }

  redactor.add(auth.clientSecret);
  const authorityHost = new URL(auth.authorityHost);
  const client = new ConfidentialClientApplication({
    auth: {
      clientId: auth.clientId,
      clientSecret: auth.clientSecret,
      authority: `${authorityHost.origin}/${encodeURIComponent(auth.tenantId)}`,
      ...(auth.authorityMetadata ? { authorityMetadata: auth.authorityMetadata, knownAuthorities: [authorityHost.host] } : {}),
      ...(auth.cloudDiscoveryMetadata ? { cloudDiscoveryMetadata: auth.cloudDiscoveryMetadata } : {}),
    },
    system: {
      networkClient: auth.networkClient ?? fetchNetworkModule(input.fetch),
      // MSAL's own logging stays off: its messages are not run through the redactor.
      loggerOptions: { piiLoggingEnabled: false, loggerCallback: () => {} },
    },
  });
  // Client credentials use the `.default` scope of the environment (resource) URL.
  const scopes = [`${new URL(input.environmentUrl).origin}/.default`];

  return {
    async getToken(force) {
      let result;
      try {
        result = await client.acquireTokenByClientCredential({ scopes, skipCache: force });
      } catch (error) {
        // Entra answered with an OAuth error: wrong tenant, client or secret. Anything else
        // (no answer, broken discovery) is a reachability problem the caller may retry.
        const code = error instanceof ServerError ? 'CRM_AUTH_FAILED' : 'CRM_UNAVAILABLE';
        const what = error instanceof ServerError ? `was refused (${redactor.redact(error.errorCode)})` : 'failed';
        throw new SyncError(code, `[dynamics-adapter] Token request for client ${auth.clientId} ${what}`, {
          cause: redactor.error(error),
          details: { tenantId: auth.tenantId, clientId: auth.clientId },
        });
      }
      if (!result?.accessToken) {
        throw new SyncError('CRM_AUTH_FAILED', `[dynamics-adapter] Token request for client ${auth.clientId} returned no token`);
      }
      return issued(result.accessToken, force);
    },
  };
}
