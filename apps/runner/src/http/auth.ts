import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { apiError } from './errors.js';

/** Paths that hold no data: the health probe and the dashboard's static files (its data needs the token). */
const PUBLIC = new Set(['/healthz', '/', '/dashboard.js', '/dashboard.css', '/favicon.svg']);

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Bearer token check for every other path, when a token is configured (it must be when the
 * runner listens beyond loopback). Compared in constant time.
 */
export function bearerAuth(token: string | undefined): MiddlewareHandler {
  const expected = token ? digest(token) : null;
  return async (c, next) => {
    if (!expected || PUBLIC.has(c.req.path)) return next();
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match?.[1] || !timingSafeEqual(digest(match[1].trim()), expected)) {
      const e = apiError(401, 'UNAUTHORIZED', 'This runner requires Authorization: Bearer <CRM_SYNC_API_TOKEN>');
      c.header('WWW-Authenticate', 'Bearer realm="crm-sync"');
      return c.json(e.body, 401);
    }
    return next();
  };
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
