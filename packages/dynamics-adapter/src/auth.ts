import { ConfidentialClientApplication, ServerError } from '@azure/msal-node';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import { SyncError } from '@crm-sync/core';
import type { EventSink } from './events.js';
import { describeNetworkFailure } from './network.js';
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

/**
 * Wraps a network module so the failure MSAL swallows (it throws `network_error` or
 * `endpoints_resolution_error` without a cause) can still be told: `last()` is the latest request
 * that got no answer (its host and error), and `answered()` whether any request got an answer.
 */
function recordingNetworkModule(inner: INetworkModule) {
  let failure: { host: string; error: unknown } | null = null;
  let answered = false;
  const wrap =
    <A extends [string, ...unknown[]], R>(send: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        const result = await send(...args);
        answered = true;
        return result;
      } catch (error) {
        let host = '(unknown host)';
        try {
          host = new URL(args[0]).host;
        } catch {
          // not a URL: the host stays unknown
        }
        failure = { host, error };
        throw error;
      }
    };
  return {
    module: {
      sendGetRequestAsync: wrap(inner.sendGetRequestAsync.bind(inner)),
      sendPostRequestAsync: wrap(inner.sendPostRequestAsync.bind(inner)),
    } as INetworkModule,
    reset: () => {
      failure = null;
    },
    last: () => failure,
    answered: () => answered,
  };
}

const DEFAULT_AUTHORITY = 'login.microsoftonline.com';

/**
 * Entra's own words (`AADSTS7000215: Invalid client secret provided...`) from MSAL's message
 * (`Error(s): ... - Description: ... - Correlation ID: ...`), without trace ids and timestamps.
 */
function entraDescription(text: string): string {
  const described = /Description: ([\s\S]*?)(?: - Correlation ID:| - Trace ID:|$)/.exec(text)?.[1] ?? text;
  return described.split(/\r?\n|\s+Trace ID:/)[0]?.trim() ?? '';
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
  const network = recordingNetworkModule(auth.networkClient ?? fetchNetworkModule(input.fetch));
  const client = new ConfidentialClientApplication({
    auth: {
      clientId: auth.clientId,
      clientSecret: auth.clientSecret,
      authority: `${authorityHost.origin}/${encodeURIComponent(auth.tenantId)}`,
      ...(auth.authorityMetadata ? { authorityMetadata: auth.authorityMetadata } : {}),
      // A configured authority is trusted as it is: MSAL reads its OpenID configuration from it
      // instead of asking login.microsoftonline.com to discover it first.
      ...(auth.authorityMetadata || authorityHost.host !== DEFAULT_AUTHORITY ? { knownAuthorities: [authorityHost.host] } : {}),
      ...(auth.cloudDiscoveryMetadata ? { cloudDiscoveryMetadata: auth.cloudDiscoveryMetadata } : {}),
    },
    system: {
      networkClient: network.module,
      // MSAL's own logging stays off: its messages are not run through the redactor.
      loggerOptions: { piiLoggingEnabled: false, loggerCallback: () => {} },
    },
  });
  // Client credentials use the `.default` scope of the environment (resource) URL.
  const scopes = [`${new URL(input.environmentUrl).origin}/.default`];

  return {
    async getToken(force) {
      let result;
      network.reset();
      // The step that failed, named for people: no request reaches the Web API without a token.
      const step = `[dynamics-adapter] Token request to the authority ${authorityHost.host} for client ${auth.clientId}`;
      const details = { step: 'token', authorityHost: authorityHost.host, tenantId: auth.tenantId, clientId: auth.clientId, scope: 'org' };
      try {
        result = await client.acquireTokenByClientCredential({ scopes, skipCache: force });
      } catch (error) {
        if (error instanceof ServerError) {
          // Entra answered with an OAuth error: wrong tenant, client or secret.
          const description = entraDescription(redactor.redact(error.errorMessage));
          throw new SyncError('CRM_AUTH_FAILED', `${step} was refused (${redactor.redact(error.errorCode)})${description ? `: ${description}` : ''}`, {
            cause: redactor.error(error),
            details,
          });
        }
        // No answer: told from the network error MSAL swallowed. A cause that retrying cannot fix
        // (unknown host, refused connection, TLS) fails at once; the rest may be retried by the caller.
        const failed = network.last();
        const cause = failed === null ? error : failed.error;
        const reason = failed === null ? null : describeNetworkFailure(failed.error, network.answered());
        const what =
          failed && reason
            ? `got no answer from ${failed.host}: ${redactor.redact(reason.text)}`
            : `failed (${redactor.redact((error as { errorCode?: string }).errorCode ?? String(error))})`;
        throw new SyncError(reason?.permanent ? 'CRM_UNREACHABLE' : 'CRM_UNAVAILABLE', `${step} ${what}`, {
          cause: redactor.error(cause),
          details: { ...details, ...(reason ? { networkCode: reason.code } : {}) },
        });
      }
      if (!result?.accessToken) {
        throw new SyncError('CRM_AUTH_FAILED', `${step} returned no token`, { details });
      }
      return issued(result.accessToken, force);
    },
  };
}
