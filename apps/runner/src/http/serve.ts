import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';

export interface HttpServer {
  /** e.g. http://127.0.0.1:8787 */
  readonly url: string;
  readonly port: number;
  /** Stops accepting connections and waits for requests in flight (at most `graceMs`). */
  close(graceMs?: number): Promise<void>;
}

function listenOnce(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/**
 * Serves a fetch handler on host:port. With `tryNextPorts`, a busy port is skipped for the next
 * ones (the demo's "8787 or the next free port").
 */
export async function serveHttp(fetch: (request: Request) => Response | Promise<Response>, options: { host: string; port: number; tryNextPorts?: number }): Promise<HttpServer> {
  const server = createServer(getRequestListener(fetch));
  const attempts = options.port === 0 ? 1 : (options.tryNextPorts ?? 0) + 1;
  for (let i = 0; ; i += 1) {
    try {
      await listenOnce(server, options.port + (options.port === 0 ? 0 : i), options.host);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || i + 1 >= attempts) throw error;
    }
  }
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const reach = options.host === '0.0.0.0' ? '127.0.0.1' : options.host === '::' ? '[::1]' : host;
  return {
    url: `http://${reach}:${port}`,
    port,
    close(graceMs = 5_000) {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}
