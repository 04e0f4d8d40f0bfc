import * as z from 'zod';
import type { FaultInjector, FaultSettings } from './faults.js';
import { FAULT_KINDS } from './faults.js';
import type { Row } from './generator.js';
import { MAX_WEB_SERVERS } from './limits.js';
import type { LimitSettings, LimitsInput, ServiceProtection } from './limits.js';
import { isODataError } from './odata/errors.js';
import { checkFilter, parseFilter } from './odata/filter.js';
import { parsePrefer } from './odata/prefer.js';
import { outputColumns, serializeRow } from './odata/serialize.js';
import type { Org, OrgUser } from './org.js';
import { applyQuirks, NO_QUIRKS } from './quirks.js';
import type { QuirkSettings, QuirksInput } from './quirks.js';
import type { RequestLog, RequestLogEntry } from './request-log.js';
import { ATTRIBUTE_TYPES, edmType } from './schema.js';
import type { ColumnInput, TableDefinition } from './schema.js';
import { parseRowBody } from './webapi/entity.js';
import { attributeMetadata } from './webapi/metadata.js';
import { requireColumn } from './webapi/query.js';

export interface WriteOptions {
  /** systemuserid the change is made as (modifiedby). Default: the first sales user. */
  asUser?: string;
}

export interface FieldSecurityChange {
  table: string;
  column: string;
  /** Turns column security on or off (custom columns only, like Dataverse). */
  secured?: boolean;
  /** Grants or changes a user's field permission (a profile with just that user). */
  userId?: string;
  canRead?: boolean;
  canUpdate?: boolean;
  canCreate?: boolean;
}

export interface SimulatorStats {
  memory: NodeJS.MemoryUsage;
  overlayRows: number;
  orgVersion: number;
}

/** Changes to the simulated org from outside the Web API, for tests and demos. */
export interface SimulatorControl {
  users(): { sync: OrgUser; admin: OrgUser; staff: OrgUser[] };
  /** A row as an administrator sees it in Web API shape, or null when missing or deleted. */
  getRow(table: string, id: string): Record<string, unknown> | null;
  /** Values in Web API body shape (`name`, `parentcustomerid_account@odata.bind`, ...). */
  insertRow(table: string, values: Record<string, unknown>, options?: WriteOptions & { id?: string }): { id: string; etag: string };
  updateRow(table: string, id: string, values: Record<string, unknown>, options?: WriteOptions): { id: string; etag: string };
  deleteRow(table: string, id: string, options?: WriteOptions): void;
  addColumn(table: string, column: ColumnInput): Record<string, unknown>;
  /** Deletes a column and its values, as a maker deleting it in Power Apps. */
  removeColumn(table: string, column: string): void;
  /**
   * Gives a custom column another type: deleted and created again under the same name (a new
   * MetadataId, no values), the way a maker changes a column's type. Answers the new definition.
   */
  changeColumnType(table: string, column: ColumnInput): Record<string, unknown>;
  setFieldSecurity(change: FieldSecurityChange): void;
  /** Rows matching the OData filter are hidden from the user (null removes the rule). */
  setRowFilter(userId: string, table: string, filter: string | null): void;
  setChangeTracking(table: string, enabled: boolean): void;
  /** Every delta token issued so far fails from now on. */
  expireDeltaTokens(): void;
  setDeltaTokenMaxAge(ms: number): void;
  limits(): LimitSettings;
  setLimits(limits: LimitsInput): LimitSettings;
  /** Forgets every user's window (request counts, execution time). */
  resetLimits(): void;
  faults(): FaultSettings;
  setFaults(faults: FaultSettings | null): void;
  quirks(): QuirkSettings;
  /** Turns documented answers on or off (fields not given are kept); null turns them all off. */
  setQuirks(quirks: QuirksInput | null): QuirkSettings;
  requestLog(options?: { since?: number; limit?: number }): RequestLogEntry[];
  clearRequestLog(): void;
  /** Moves the simulated clock forward. */
  advanceClock(ms: number): string;
  now(): string;
  stats(): SimulatorStats;
}

/** A rejected control call; `status` is what the HTTP control API answers with. */
export interface ControlError extends Error {
  readonly name: 'ControlError';
  readonly status: number;
  readonly issues?: unknown;
}

function controlFailure(status: number, message: string, issues?: unknown): ControlError {
  return Object.assign(new Error(message), { name: 'ControlError' as const, status, ...(issues ? { issues } : {}) });
}

export function isControlError(error: unknown): error is ControlError {
  return error instanceof Error && error.name === 'ControlError';
}

export interface ControlDependencies {
  org: Org;
  limits: ServiceProtection;
  faults: FaultInjector;
  log: RequestLog;
}

export function createControl({ org, limits, faults, log }: ControlDependencies): SimulatorControl {
  const tableOf = (name: string): TableDefinition => {
    const table = org.table(name);
    if (!table) throw controlFailure(404, `Unknown table '${name}'. Use logical names, like 'contact'.`);
    return table;
  };
  const userOf = (userId: string | undefined): string => {
    const id = (userId ?? org.users.staff[0]?.id ?? org.users.admin.id).toLowerCase();
    if (!org.userExists(id)) throw controlFailure(400, `Unknown user '${id}'.`);
    return id;
  };
  const parse = (table: TableDefinition, userId: string, values: Record<string, unknown>, mode: 'create' | 'update'): Row => {
    try {
      return parseRowBody(org, userId, table, values, { mode, trusted: true });
    } catch (error) {
      if (isODataError(error)) throw controlFailure(error.status === 404 ? 404 : 400, error.message);
      throw error;
    }
  };

  return {
    users: () => org.users,
    getRow: (tableName, id) => {
      const table = tableOf(tableName);
      const stored = org.getRow(table.logicalName, id);
      if (!stored) return null;
      return serializeRow({ org, userId: org.users.admin.id, preferences: parsePrefer(null) }, table, stored, outputColumns(table, null));
    },
    insertRow: (tableName, values, options = {}) => {
      const table = tableOf(tableName);
      const userId = userOf(options.asUser);
      const row = parse(table, userId, values, 'create');
      const id = (options.id ?? (typeof row[table.primaryIdAttribute] === 'string' ? (row[table.primaryIdAttribute] as string) : undefined))?.toLowerCase();
      delete row[table.primaryIdAttribute];
      if (id !== undefined && org.getRow(table.logicalName, id)) throw controlFailure(409, `Row ${id} already exists in ${table.logicalName}.`);
      const stored = org.create(table.logicalName, row, { userId, ...(id ? { id } : {}) });
      return { id: stored.id, etag: `W/"${stored.version}"` };
    },
    updateRow: (tableName, id, values, options = {}) => {
      const table = tableOf(tableName);
      const userId = userOf(options.asUser);
      if (!org.getRow(table.logicalName, id)) throw controlFailure(404, `${table.logicalName} With Id = ${id} Does Not Exist`);
      const row = parse(table, userId, values, 'update');
      delete row[table.primaryIdAttribute];
      const stored = org.update(table.logicalName, id, row, { userId });
      return { id: stored.id, etag: `W/"${stored.version}"` };
    },
    deleteRow: (tableName, id, options = {}) => {
      const table = tableOf(tableName);
      const userId = userOf(options.asUser);
      if (!org.getRow(table.logicalName, id)) throw controlFailure(404, `${table.logicalName} With Id = ${id} Does Not Exist`);
      org.remove(table.logicalName, id, { userId });
    },
    addColumn: (tableName, input) => {
      const table = tableOf(tableName);
      try {
        const column = org.addColumn(table.logicalName, input);
        return attributeMetadata(table, column, true);
      } catch (error) {
        throw controlFailure(400, (error as Error).message);
      }
    },
    removeColumn: (tableName, columnName) => {
      const table = tableOf(tableName);
      if (!table.columns.has(columnName)) throw controlFailure(404, `Unknown column '${columnName}' on ${table.logicalName}.`);
      try {
        org.removeColumn(table.logicalName, columnName);
      } catch (error) {
        throw controlFailure(400, (error as Error).message);
      }
    },
    changeColumnType: (tableName, input) => {
      const table = tableOf(tableName);
      const existing = table.columns.get(input.logicalName);
      if (!existing) throw controlFailure(404, `Unknown column '${input.logicalName}' on ${table.logicalName}.`);
      if (!existing.isCustom) throw controlFailure(400, `Column '${input.logicalName}' is a system column: only custom columns change type.`);
      try {
        org.removeColumn(table.logicalName, input.logicalName);
        return attributeMetadata(table, org.addColumn(table.logicalName, input), true);
      } catch (error) {
        throw controlFailure(400, (error as Error).message);
      }
    },
    setFieldSecurity: (change) => {
      const table = tableOf(change.table);
      const column = table.columns.get(change.column);
      if (!column) throw controlFailure(404, `Unknown column '${change.column}' on ${table.logicalName}.`);
      if (change.secured !== undefined) {
        if (change.secured && !column.canBeSecured) throw controlFailure(400, `Column '${column.logicalName}' cannot be secured.`);
        if (column.isSecured !== change.secured) {
          column.isSecured = change.secured;
          org.touchColumn(table.logicalName, column.logicalName);
        }
      }
      if (change.userId !== undefined) {
        org.setFieldPermission(userOf(change.userId), table.logicalName, column.logicalName, {
          canRead: change.canRead ?? false,
          canUpdate: change.canUpdate ?? false,
          canCreate: change.canCreate ?? false,
        });
      }
    },
    setRowFilter: (userId, tableName, filter) => {
      const table = tableOf(tableName);
      if (filter === null) {
        org.setRowFilter(userOf(userId), table.logicalName, null);
        return;
      }
      try {
        const expr = parseFilter(filter);
        checkFilter(expr, (path) => edmType(requireColumn(table, path).type));
        org.setRowFilter(userOf(userId), table.logicalName, { text: filter, expr });
      } catch (error) {
        if (isODataError(error)) throw controlFailure(400, error.message);
        throw error;
      }
    },
    setChangeTracking: (tableName, enabled) => {
      tableOf(tableName).changeTrackingEnabled = enabled;
    },
    expireDeltaTokens: () => org.expireDeltaTokens(),
    setDeltaTokenMaxAge: (ms) => {
      org.deltaTokenMaxAgeMs = ms;
    },
    limits: () => limits.settings(),
    setLimits: (input) => limits.update(input),
    resetLimits: () => limits.reset(),
    faults: () => faults.settings(),
    setFaults: (settings) => faults.set(settings),
    quirks: () => org.quirks,
    setQuirks: (input) => {
      org.quirks = applyQuirks(input === null ? NO_QUIRKS : org.quirks, input ?? {});
      return org.quirks;
    },
    requestLog: (options) => log.entries(options),
    clearRequestLog: () => log.clear(),
    advanceClock: (ms) => {
      org.clock.advance(ms);
      return new Date(org.clock.now()).toISOString();
    },
    now: () => new Date(org.clock.now()).toISOString(),
    stats: () => ({ memory: process.memoryUsage(), overlayRows: org.overlaySize(), orgVersion: org.currentVersion() }),
  };
}

const asUser = z.object({ asUser: z.string().optional() });
const values = z.record(z.string(), z.unknown());
const columnSchema = z.object({
  logicalName: z.string().regex(/^[a-z][a-z0-9_]*$/, 'lowercase letters, digits and _'),
  type: z.enum(ATTRIBUTE_TYPES as unknown as [string, ...string[]]),
  schemaName: z.string().optional(),
  displayName: z.string().optional(),
  isCustom: z.boolean().optional(),
  isValidForRead: z.boolean().optional(),
  isValidForCreate: z.boolean().optional(),
  isValidForUpdate: z.boolean().optional(),
  isSecured: z.boolean().optional(),
  canBeSecured: z.boolean().optional(),
  maxLength: z.number().int().positive().optional(),
  minValue: z.number().optional(),
  maxValue: z.number().optional(),
  options: z.array(z.object({ value: z.number().int(), label: z.string() })).optional(),
  targets: z.array(z.string()).optional(),
  navigation: z.record(z.string(), z.string()).optional(),
});
const fieldSecuritySchema = z.object({
  table: z.string(),
  column: z.string(),
  secured: z.boolean().optional(),
  userId: z.string().optional(),
  canRead: z.boolean().optional(),
  canUpdate: z.boolean().optional(),
  canCreate: z.boolean().optional(),
});
const limitsSchema = z
  .object({
    enabled: z.boolean(),
    windowMs: z.number().positive(),
    maxRequests: z.number().int().nonnegative(),
    maxExecutionMs: z.number().nonnegative(),
    maxConcurrent: z.number().int().positive(),
    cost: z.object({ baseMs: z.number().nonnegative(), perRowMs: z.number().nonnegative(), perColumnMs: z.number().nonnegative(), perWriteMs: z.number().nonnegative() }).partial(),
    holdAnswers: z.boolean(),
    dopHint: z.number().int().min(1).max(1000),
    webServers: z.number().int().min(1).max(MAX_WEB_SERVERS),
  })
  .partial();
const faultsSchema = z.object({
  seed: z.number().int().optional(),
  rules: z.array(
    z.object({
      kind: z.enum(FAULT_KINDS),
      rate: z.number().min(0).max(1),
      path: z.string().optional(),
      method: z.string().optional(),
      limit: z.number().int().positive().optional(),
      delayMs: z.number().nonnegative().optional(),
      retryAfterSeconds: z.number().int().positive().optional(),
    }),
  ),
});

const quirksSchema = z
  .object({
    ignoreContinueOnError: z.boolean(),
    narrowLinks: z.object({ drop: z.array(z.string()).min(1), links: z.array(z.enum(['deltaLink', 'nextLink'])).min(1).optional() }).nullable(),
  })
  .partial();

export const CONTROL_PATH = '/_simulator/';

const controlJson = (status: number, body: unknown): Response =>
  new Response(body === undefined ? null : JSON.stringify(body), { status, headers: body === undefined ? {} : { 'Content-Type': 'application/json' } });

const controlError = (status: number, message: string, issues?: unknown): Response =>
  controlJson(status, { error: { code: 'SimulatorControlError', message, ...(issues ? { issues } : {}) } });

async function readJson<T>(request: Request, schema: z.ZodType<T>): Promise<T> {
  const text = await request.text();
  let body: unknown;
  try {
    body = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw controlFailure(400, 'The body is not valid JSON.');
  }
  const result = schema.safeParse(body);
  if (!result.success) {
    const summary = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ');
    throw controlFailure(400, `Invalid body: ${summary}`, result.error.issues);
  }
  return result.data;
}

/** The control API over HTTP, under /_simulator/ (JSON in, JSON out). */
export async function handleControlRequest(control: SimulatorControl, request: Request, url: URL, info: () => unknown): Promise<Response> {
  const path = url.pathname.slice(CONTROL_PATH.length).split('/').filter((segment) => segment !== '').map(decodeURIComponent);
  const route = `${request.method} ${path[0] ?? ''}`;
  try {
    switch (route) {
      case 'GET info':
        return controlJson(200, info());
      case 'GET users':
        return controlJson(200, control.users());
      case 'GET rows': {
        const [, table, id] = path;
        if (!table || !id) break;
        const row = control.getRow(table, id);
        return row ? controlJson(200, row) : controlError(404, `${table} With Id = ${id} Does Not Exist`);
      }
      case 'POST rows': {
        const [, table] = path;
        if (!table || path.length !== 2) break;
        const body = await readJson(request, asUser.extend({ id: z.string().optional(), values }));
        return controlJson(201, control.insertRow(table, body.values, { ...(body.asUser ? { asUser: body.asUser } : {}), ...(body.id ? { id: body.id } : {}) }));
      }
      case 'PATCH rows': {
        const [, table, id] = path;
        if (!table || !id) break;
        const body = await readJson(request, asUser.extend({ values }));
        return controlJson(200, control.updateRow(table, id, body.values, body.asUser ? { asUser: body.asUser } : {}));
      }
      case 'DELETE rows': {
        const [, table, id] = path;
        if (!table || !id) break;
        const user = url.searchParams.get('asUser');
        control.deleteRow(table, id, user ? { asUser: user } : {});
        return controlJson(204, undefined);
      }
      case 'POST columns': {
        const [, table] = path;
        if (!table) break;
        const body = await readJson(request, columnSchema);
        return controlJson(201, control.addColumn(table, body as ColumnInput));
      }
      case 'DELETE columns': {
        const [, table, column] = path;
        if (!table || !column || path.length !== 3) break;
        control.removeColumn(table, column);
        return controlJson(204, undefined);
      }
      case 'PUT columns': {
        const [, table, column] = path;
        if (!table || !column || path.length !== 3) break;
        const body = await readJson(request, columnSchema.omit({ logicalName: true }));
        return controlJson(200, control.changeColumnType(table, { ...(body as Omit<ColumnInput, 'logicalName'>), logicalName: column }));
      }
      case 'PUT field-security': {
        const body = await readJson(request, fieldSecuritySchema);
        control.setFieldSecurity(body as FieldSecurityChange);
        return controlJson(204, undefined);
      }
      case 'PUT row-filters': {
        const body = await readJson(request, z.object({ userId: z.string(), table: z.string(), filter: z.string().nullable() }));
        control.setRowFilter(body.userId, body.table, body.filter);
        return controlJson(204, undefined);
      }
      case 'PUT change-tracking': {
        const body = await readJson(request, z.object({ table: z.string(), enabled: z.boolean() }));
        control.setChangeTracking(body.table, body.enabled);
        return controlJson(204, undefined);
      }
      case 'POST delta-tokens':
        if (path[1] !== 'expire') break;
        control.expireDeltaTokens();
        return controlJson(204, undefined);
      case 'PUT delta-tokens': {
        const body = await readJson(request, z.object({ maxAgeMs: z.number().nonnegative() }));
        control.setDeltaTokenMaxAge(body.maxAgeMs);
        return controlJson(204, undefined);
      }
      case 'GET limits':
        return controlJson(200, control.limits());
      case 'PUT limits':
        return controlJson(200, control.setLimits((await readJson(request, limitsSchema)) as LimitsInput));
      case 'DELETE limits':
        control.resetLimits();
        return controlJson(204, undefined);
      case 'GET faults':
        return controlJson(200, control.faults());
      case 'PUT faults':
        control.setFaults((await readJson(request, faultsSchema)) as FaultSettings);
        return controlJson(200, control.faults());
      case 'DELETE faults':
        control.setFaults(null);
        return controlJson(204, undefined);
      case 'GET quirks':
        return controlJson(200, control.quirks());
      case 'PUT quirks':
        return controlJson(200, control.setQuirks((await readJson(request, quirksSchema)) as QuirksInput));
      case 'DELETE quirks':
        control.setQuirks(null);
        return controlJson(204, undefined);
      case 'GET requests': {
        const since = url.searchParams.get('since');
        const limit = url.searchParams.get('limit');
        const parsed = z
          .object({ since: z.coerce.number().int().nonnegative().optional(), limit: z.coerce.number().int().positive().optional() })
          .safeParse({ ...(since !== null ? { since } : {}), ...(limit !== null ? { limit } : {}) });
        if (!parsed.success) return controlError(400, 'since and limit must be non-negative integers.', parsed.error.issues);
        return controlJson(200, control.requestLog({ ...(parsed.data.since !== undefined ? { since: parsed.data.since } : {}), ...(parsed.data.limit !== undefined ? { limit: parsed.data.limit } : {}) }));
      }
      case 'DELETE requests':
        control.clearRequestLog();
        return controlJson(204, undefined);
      case 'POST clock': {
        if (path[1] !== 'advance') break;
        const body = await readJson(request, z.object({ ms: z.number().nonnegative() }));
        return controlJson(200, { now: control.advanceClock(body.ms) });
      }
      case 'GET clock':
        return controlJson(200, { now: control.now() });
      case 'GET stats':
        return controlJson(200, control.stats());
    }
    return controlError(404, `No control route for ${request.method} ${url.pathname}. See the package README.`);
  } catch (error) {
    if (isControlError(error)) return controlError(error.status, error.message, error.issues);
    throw error;
  }
}
