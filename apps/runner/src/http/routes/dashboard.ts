import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { packageRoot } from '../../version.js';

const ASSETS = [
  { path: '/', file: 'index.html', type: 'text/html; charset=utf-8' },
  { path: '/dashboard.js', file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  { path: '/dashboard.css', file: 'dashboard.css', type: 'text/css; charset=utf-8' },
  { path: '/favicon.svg', file: 'favicon.svg', type: 'image/svg+xml' },
] as const;

/** The dashboard: static files (no build step) that read the JSON API. They hold no data themselves. */
export function registerDashboardRoutes(app: OpenAPIHono): void {
  const dir = join(packageRoot(), 'dashboard');
  for (const asset of ASSETS) {
    const body = readFileSync(join(dir, asset.file));
    app.get(asset.path, (c) => {
      c.header('Content-Type', asset.type);
      c.header('Cache-Control', 'no-cache');
      c.header('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
      return c.body(body, 200);
    });
  }
}
