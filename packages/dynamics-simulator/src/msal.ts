/**
 * A network client for @azure/msal-node (`system.networkClient`) that sends MSAL's requests to the
 * simulator. MSAL only accepts https authorities, and the standalone server speaks plain http on
 * 127.0.0.1, so the client keeps the https authority in MSAL's configuration and rewrites the origin here.
 * Structurally compatible with msal-node's INetworkModule; msal-node is not a dependency.
 */
export interface MsalNetworkClient {
  sendGetRequestAsync<T>(url: string, options?: { headers?: Record<string, string>; body?: string }): Promise<{ headers: Record<string, string>; body: T; status: number }>;
  sendPostRequestAsync<T>(url: string, options?: { headers?: Record<string, string>; body?: string }): Promise<{ headers: Record<string, string>; body: T; status: number }>;
}

export interface MsalNetworkClientOptions {
  /** Where requests go instead, e.g. the standalone server's URL. */
  target: string;
  fetch?: typeof fetch;
}

export function createMsalNetworkClient(options: MsalNetworkClientOptions): MsalNetworkClient {
  const target = new URL(options.target);
  const fetchImpl = options.fetch ?? fetch;
  const send = async <T>(method: 'GET' | 'POST', url: string, request: { headers?: Record<string, string>; body?: string } = {}) => {
    const rewritten = new URL(url);
    rewritten.protocol = target.protocol;
    rewritten.host = target.host;
    const response = await fetchImpl(rewritten, { method, headers: request.headers ?? {}, ...(method === 'POST' ? { body: request.body ?? '' } : {}) });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const text = await response.text();
    let body: unknown;
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      body = { error: 'invalid_json', error_description: text };
    }
    return { headers, body: body as T, status: response.status };
  };
  return {
    sendGetRequestAsync: (url, request) => send('GET', url, request),
    sendPostRequestAsync: (url, request) => send('POST', url, request),
  };
}
