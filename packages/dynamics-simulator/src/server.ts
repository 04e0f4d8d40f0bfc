import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSimulator } from './simulator.js';
import type { Simulator, SimulatorOptions } from './simulator.js';
import type { SimulatorControl } from './control.js';
import { responseBody } from './webapi/http.js';

export interface ServerOptions extends SimulatorOptions {
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Serve an existing simulator instead of creating one. */
  simulator?: Simulator;
}

export interface SimulatorServer {
  /** e.g. http://127.0.0.1:8080 (org URL, token endpoint host and control API host). */
  readonly url: string;
  readonly webApiUrl: string;
  readonly tokenUrl: string;
  readonly simulator: Simulator;
  readonly control: SimulatorControl;
  close(): Promise<void>;
}

async function toRequest(req: IncomingMessage, origin: string): Promise<Request> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else if (value !== undefined) headers.set(name, value);
  }
  const method = req.method ?? 'GET';
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return new Request(new URL(req.url ?? '/', origin), { method, headers, ...(hasBody ? { body: Buffer.concat(chunks) } : {}) });
}

async function send(res: ServerResponse, response: Response): Promise<void> {
  // A fault of kind 'drop': the connection ends without an HTTP response.
  if (response.type === 'error') {
    res.socket?.destroy();
    return;
  }
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  // Several Set-Cookie headers (the affinity cookies) stay separate lines.
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  // Bodies the simulator built itself are written as they are (no Fetch body stream, no extra copies).
  const own = responseBody(response);
  const body = own === undefined ? Buffer.from(await response.arrayBuffer()) : typeof own === 'string' ? Buffer.from(own, 'utf8') : own;
  if (response.status !== 204 && response.status !== 304) headers['content-length'] = String(body.length);
  res.writeHead(response.status, headers);
  res.end(response.status === 204 || response.status === 304 ? undefined : body);
}

/** Starts the simulator as a plain HTTP server (127.0.0.1 by default) serving the same handler as the MSW handlers. */
export async function startSimulatorServer(options: ServerOptions = {}): Promise<SimulatorServer> {
  const host = options.host ?? '127.0.0.1';
  // Dataverse takes GET URLs up to 32 KB (Node's default header limit is 16 KB).
  const server = createServer({ maxHeaderSize: 40 * 1024 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const simulator = options.simulator ?? createSimulator({ url, loginUrl: url, ...options });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const origin = req.headers.host ? `http://${req.headers.host}` : url;
    toRequest(req, origin)
      .then((request) => simulator.fetchHandler(request))
      .then((response) => send(res, response))
      .catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(error));
      });
  });
  return {
    url,
    webApiUrl: simulator.webApiUrl(url),
    tokenUrl: simulator.tokenUrl(url),
    simulator,
    control: simulator.control,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
