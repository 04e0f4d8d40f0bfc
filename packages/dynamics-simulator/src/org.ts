import type { Clock } from './clock.js';
import type { Dataset, LookupValue, Row, Value } from './generator.js';
import { BASE_VERSION_CEILING, CURRENCY, CURRENCY_NAME } from './generator.js';
import { nameGuid } from './guid.js';
import { createRandom, hash32, randomGuid } from './random.js';
import { createDefaultTables, defineColumn, isLookup } from './schema.js';
import type { ColumnDefinition, ColumnInput, TableDefinition } from './schema.js';
import type { FilterExpr } from './odata/filter.js';
import { NO_QUIRKS } from './quirks.js';
import type { QuirkSettings } from './quirks.js';

/** A readable row: its id, values, versionnumber and position in the table's natural order. */
export interface StoredRow {
  id: string;
  row: Row;
  version: number;
  position: number;
}

/** A tombstone or a changed row in the overlay. */
interface OverlayEntry {
  id: string;
  row: Row | null;
  version: number;
  position: number;
}

interface TableState {
  definition: TableDefinition;
  baseCount: number;
  overlay: Map<string, OverlayEntry>;
  /** Ids of rows created at run time, in creation order (positions baseCount + i). */
  inserted: string[];
  insertedPosition: Map<string, number>;
}

export interface FieldPermission {
  canRead: boolean;
  canUpdate: boolean;
  canCreate: boolean;
}

export interface RowFilter {
  text: string;
  expr: FilterExpr;
}

export interface OrgUser {
  id: string;
  fullName: string;
  role: 'sync' | 'admin' | 'staff';
}

export interface WriteContext {
  /** systemuserid of the caller; becomes modifiedby (and ownerid on create). */
  userId: string;
}

/** The System Administrator field security profile id (fixed in every org). */
export const ADMIN_PROFILE_ID = '572329c1-a042-4e22-be47-367c6374ea45';

export interface Org {
  readonly dataset: Dataset;
  readonly clock: Clock;
  readonly organizationId: string;
  readonly businessUnitId: string;
  readonly users: { sync: OrgUser; admin: OrgUser; staff: OrgUser[] };
  tables(): TableDefinition[];
  table(logicalName: string): TableDefinition | undefined;
  tableBySet(entitySetName: string): TableDefinition | undefined;
  /** Positions to walk: generated rows, then rows created at run time. */
  size(table: string): number;
  rowAt(table: string, position: number): StoredRow | undefined;
  getRow(table: string, id: string): StoredRow | undefined;
  /** Position of an id, also for deleted rows; undefined if the id never existed. */
  positionOf(table: string, id: string): number | undefined;
  create(table: string, values: Row, context: WriteContext & { id?: string }): StoredRow;
  update(table: string, id: string, values: Row, context: WriteContext): StoredRow;
  remove(table: string, id: string, context: WriteContext): void;
  /** Highest versionnumber handed out so far. */
  currentVersion(): number;
  /** Rows changed (version order) and deleted after `since`, up to `upTo` inclusive. */
  changesSince(table: string, since: number, upTo: number): { changed: StoredRow[]; deleted: Array<{ id: string; version: number }> };
  primaryNameOf(target: LookupValue): string | null;
  /** Runs `work`; if it throws, every row change it made is undone (change sets). */
  atomically<T>(work: () => T): T;
  addColumn(table: string, input: ColumnInput): ColumnDefinition;
  /** Deletes a column and its values (the primary key and primary name cannot go). */
  removeColumn(table: string, column: string): ColumnDefinition;
  /** A column definition changed in place (e.g. field security): its next metadata version. */
  touchColumn(table: string, column: string): void;
  /** Column definitions changed (upserted) or deleted after schema version `since`, oldest first. */
  schemaChangesSince(since: number): SchemaChange[];
  /** The latest schema version (RetrieveMetadataChanges' ServerVersionStamp carries it). */
  schemaVersion(): number;
  fieldPermission(userId: string, table: string, column: ColumnDefinition): FieldPermission;
  setFieldPermission(userId: string, table: string, column: string, permission: FieldPermission | null): void;
  /** Secured columns with an explicit permission for the user (admins: all). */
  securedPermissions(userId: string): Array<{ table: TableDefinition; column: ColumnDefinition; permission: FieldPermission }>;
  isAdmin(userId: string): boolean;
  rowFilter(userId: string, table: string): RowFilter | undefined;
  setRowFilter(userId: string, table: string, filter: RowFilter | null): void;
  userExists(userId: string): boolean;
  /** Delta tokens at or below this version are expired. */
  expiredTokenVersion(): number;
  expireDeltaTokens(): void;
  deltaTokenMaxAgeMs: number;
  /** Documented answers the simulator gives only when asked (control `setQuirks`). */
  quirks: QuirkSettings;
  /** Rows held in memory for run-time changes (the generated rows are not held). */
  overlaySize(): number;
}

/** One column definition change, for RetrieveMetadataChanges. */
export interface SchemaChange {
  version: number;
  table: string;
  column: string;
  /** The column's MetadataId (a deleted column's id is only known from here). */
  metadataId: string;
  kind: 'upsert' | 'delete';
}

export interface OrgOptions {
  dataset: Dataset;
  clock: Clock;
  deltaTokenMaxAgeMs?: number;
  quirks?: QuirkSettings;
}

const permissionKey = (table: string, column: string): string => `${table}.${column}`;
const NO_ACCESS: FieldPermission = { canRead: false, canUpdate: false, canCreate: false };
const FULL_ACCESS: FieldPermission = { canRead: true, canUpdate: true, canCreate: true };

export function toIsoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function createOrg(options: OrgOptions): Org {
  const { dataset, clock } = options;
  const definitions = createDefaultTables();
  const states = new Map<string, TableState>();
  const bySet = new Map<string, TableDefinition>();
  for (const definition of definitions) {
    states.set(definition.logicalName, {
      definition,
      baseCount: (dataset.counts as Record<string, number>)[definition.logicalName] ?? 0,
      overlay: new Map(),
      inserted: [],
      insertedPosition: new Map(),
    });
    bySet.set(definition.entitySetName, definition);
  }
  let version = BASE_VERSION_CEILING;
  // Column definition changes, in order (a deleted column is only known from its entry here).
  let schemaVersion = 1;
  const schemaLog: SchemaChange[] = [];
  const noteSchema = (table: string, column: ColumnDefinition, kind: SchemaChange['kind']): void => {
    schemaVersion += 1;
    schemaLog.push({ version: schemaVersion, table, column: column.logicalName, metadataId: column.metadataId, kind });
  };
  // A column deleted and created again under the same name is a new column with a new MetadataId.
  const generations = new Map<string, number>();
  let expiredBelowOrAt = 0;
  const newIds = createRandom(hash32(dataset.seed, 'new-row-ids'));

  const userRef = (index: number, role: OrgUser['role']): OrgUser => ({
    id: dataset.idOf('systemuser', index),
    fullName: dataset.primaryName('systemuser', index),
    role,
  });
  const users = {
    sync: userRef(0, 'sync'),
    admin: userRef(1, 'admin'),
    staff: Array.from({ length: dataset.counts.systemuser - 2 }, (_, i) => userRef(i + 2, 'staff')),
  };
  const admins = new Set([users.admin.id]);
  const permissions = new Map<string, Map<string, FieldPermission>>();
  // The sync user may read the risk score but not change it; the credit limit stays hidden.
  permissions.set(users.sync.id, new Map([[permissionKey('contact', 'new_riskscore'), { canRead: true, canUpdate: false, canCreate: false }]]));
  const rowFilters = new Map<string, Map<string, RowFilter>>();

  type JournalEntry = { state: TableState; id: string; previous: OverlayEntry | undefined };
  type Journal = { entries: JournalEntry[]; seen: Set<string>; insertedLengths: Map<TableState, number> };
  let journal: Journal | null = null;

  const stateOf = (table: string): TableState => {
    const state = states.get(table);
    if (!state) throw new Error(`Unknown table: ${table}`);
    return state;
  };

  const record = (state: TableState, id: string): void => {
    if (!journal) return;
    const key = `${state.definition.logicalName}:${id}`;
    if (journal.seen.has(key)) return;
    journal.seen.add(key);
    journal.entries.push({ state, id, previous: state.overlay.get(id) });
    if (!journal.insertedLengths.has(state)) journal.insertedLengths.set(state, state.inserted.length);
  };

  const baseStored = (state: TableState, index: number): StoredRow => {
    const row = dataset.row(state.definition.logicalName, index);
    return { id: row[state.definition.primaryIdAttribute] as string, row, version: row.versionnumber as number, position: index };
  };

  const rowAt = (table: string, position: number): StoredRow | undefined => {
    const state = stateOf(table);
    if (position < state.baseCount) {
      // Most reads happen with no or few changes: only look the id up when the overlay holds rows.
      if (state.overlay.size > 0) {
        const id = dataset.idOf(table, position);
        const entry = state.overlay.get(id);
        if (entry) return entry.row ? { id, row: entry.row, version: entry.version, position } : undefined;
      }
      return baseStored(state, position);
    }
    const id = state.inserted[position - state.baseCount];
    if (id === undefined) return undefined;
    const entry = state.overlay.get(id);
    return entry?.row ? { id, row: entry.row, version: entry.version, position } : undefined;
  };

  const positionOf = (table: string, id: string): number | undefined => {
    const state = stateOf(table);
    const lower = id.toLowerCase();
    const index = dataset.indexOf(table, lower);
    if (index !== undefined && index < state.baseCount) return index;
    const inserted = state.insertedPosition.get(lower);
    return inserted === undefined ? undefined : state.baseCount + inserted;
  };

  const getRow = (table: string, id: string): StoredRow | undefined => {
    const position = positionOf(table, id);
    return position === undefined ? undefined : rowAt(table, position);
  };

  const computeNames = (definition: TableDefinition, row: Row): void => {
    if (definition.columns.get('fullname')?.isValidForUpdate === false && ('firstname' in row || 'lastname' in row)) {
      row.fullname = [row.firstname, row.lastname].filter((part) => typeof part === 'string' && part !== '').join(' ') || null;
    }
  };

  const stamp = (definition: TableDefinition, row: Row, userId: string): number => {
    version += 1;
    row.modifiedon = toIsoSeconds(clock.now());
    row.modifiedby = { table: 'systemuser', id: userId };
    row.versionnumber = version;
    if (definition.columns.has('transactioncurrencyid')) row.transactioncurrencyid ??= CURRENCY;
    return version;
  };

  const write = (state: TableState, entry: OverlayEntry): void => {
    record(state, entry.id);
    state.overlay.set(entry.id, entry);
  };

  const create: Org['create'] = (table, values, context) => {
    const state = stateOf(table);
    const definition = state.definition;
    const id = (context.id ?? randomGuid(newIds)).toLowerCase();
    if (getRow(table, id)) throw new Error(`Row ${id} already exists in ${table}`);
    const row: Row = { ...values, [definition.primaryIdAttribute]: id };
    const now = toIsoSeconds(clock.now());
    row.createdon = now;
    row.createdby = { table: 'systemuser', id: context.userId };
    if (definition.ownershipType === 'UserOwned') row.ownerid ??= { table: 'systemuser', id: context.userId };
    const stateColumn = definition.columns.get('statecode');
    if (stateColumn) {
      row.statecode ??= 0;
      row.statuscode ??= definition.columns.get('statuscode')?.options?.[0]?.value ?? 1;
    }
    computeNames(definition, row);
    const rowVersion = stamp(definition, row, context.userId);
    let position = positionOf(table, id);
    if (position === undefined) {
      record(state, id);
      if (journal && !journal.insertedLengths.has(state)) journal.insertedLengths.set(state, state.inserted.length);
      state.insertedPosition.set(id, state.inserted.length);
      state.inserted.push(id);
      position = state.baseCount + state.inserted.length - 1;
    }
    write(state, { id, row, version: rowVersion, position });
    return { id, row, version: rowVersion, position };
  };

  const update: Org['update'] = (table, id, values, context) => {
    const state = stateOf(table);
    const current = getRow(table, id);
    if (!current) throw new Error(`Row ${id} does not exist in ${table}`);
    const row: Row = { ...current.row, ...values };
    computeNames(state.definition, row);
    const rowVersion = stamp(state.definition, row, context.userId);
    write(state, { id: current.id, row, version: rowVersion, position: current.position });
    return { id: current.id, row, version: rowVersion, position: current.position };
  };

  const remove: Org['remove'] = (table, id) => {
    const state = stateOf(table);
    const current = getRow(table, id);
    if (!current) throw new Error(`Row ${id} does not exist in ${table}`);
    version += 1;
    write(state, { id: current.id, row: null, version, position: current.position });
  };

  const changesSince: Org['changesSince'] = (table, since, upTo) => {
    const state = stateOf(table);
    const changed: StoredRow[] = [];
    const deleted: Array<{ id: string; version: number }> = [];
    for (const entry of state.overlay.values()) {
      if (entry.version <= since || entry.version > upTo) continue;
      if (entry.row) changed.push({ id: entry.id, row: entry.row, version: entry.version, position: entry.position });
      else deleted.push({ id: entry.id, version: entry.version });
    }
    changed.sort((a, b) => a.version - b.version);
    deleted.sort((a, b) => a.version - b.version);
    return { changed, deleted };
  };

  const primaryNameOf = (target: LookupValue): string | null => {
    const state = states.get(target.table);
    if (!state) return target.table === CURRENCY.table ? CURRENCY_NAME : null;
    const stored = getRow(target.table, target.id);
    if (!stored) return null;
    const entry = state.overlay.get(stored.id);
    if (!entry && stored.position < state.baseCount) return dataset.primaryName(target.table, stored.position);
    const name = stored.row[state.definition.primaryNameAttribute];
    return typeof name === 'string' ? name : null;
  };

  const atomically = <T>(work: () => T): T => {
    if (journal) return work();
    const undo: Journal = { entries: [], seen: new Set(), insertedLengths: new Map() };
    journal = undo;
    try {
      const result = work();
      journal = null;
      return result;
    } catch (error) {
      journal = null;
      for (const entry of undo.entries.reverse()) {
        if (entry.previous) entry.state.overlay.set(entry.id, entry.previous);
        else entry.state.overlay.delete(entry.id);
      }
      for (const [state, length] of undo.insertedLengths) {
        for (const id of state.inserted.splice(length)) state.insertedPosition.delete(id);
      }
      throw error;
    }
  };

  const fieldPermission: Org['fieldPermission'] = (userId, table, column) => {
    if (!column.isSecured || admins.has(userId)) return FULL_ACCESS;
    return permissions.get(userId)?.get(permissionKey(table, column.logicalName)) ?? NO_ACCESS;
  };

  return {
    dataset,
    clock,
    organizationId: nameGuid(dataset.seed, 'organization'),
    businessUnitId: nameGuid(dataset.seed, 'business-unit'),
    users,
    tables: () => [...states.values()].map((state) => state.definition),
    table: (logicalName) => states.get(logicalName)?.definition,
    tableBySet: (entitySetName) => bySet.get(entitySetName),
    size: (table) => {
      const state = stateOf(table);
      return state.baseCount + state.inserted.length;
    },
    rowAt,
    getRow,
    positionOf,
    create,
    update,
    remove,
    currentVersion: () => version,
    changesSince,
    primaryNameOf,
    atomically,
    addColumn: (table, input) => {
      const definition = stateOf(table).definition;
      if (definition.columns.has(input.logicalName)) throw new Error(`Column ${input.logicalName} already exists on ${table}`);
      const column = defineColumn(table, input);
      if (isLookup(column) && !column.targets?.length) throw new Error('A lookup column needs targets');
      const generation = generations.get(`${table}.${input.logicalName}`);
      if (generation !== undefined) column.metadataId = nameGuid('attribute', table, input.logicalName, generation);
      definition.columns.set(column.logicalName, column);
      noteSchema(table, column, 'upsert');
      return column;
    },
    removeColumn: (table, name) => {
      const state = stateOf(table);
      const column = state.definition.columns.get(name);
      if (!column) throw new Error(`Unknown column '${name}' on ${table}`);
      if (column.isPrimaryId || column.isPrimaryName) throw new Error(`Column '${name}' is the primary key or name of ${table} and cannot be deleted`);
      state.definition.columns.delete(name);
      // Deleting a column deletes its data.
      for (const entry of state.overlay.values()) if (entry.row) delete entry.row[name];
      const key = `${table}.${name}`;
      generations.set(key, (generations.get(key) ?? 0) + 1);
      noteSchema(table, column, 'delete');
      return column;
    },
    touchColumn: (table, name) => {
      const column = stateOf(table).definition.columns.get(name);
      if (!column) throw new Error(`Unknown column '${name}' on ${table}`);
      noteSchema(table, column, 'upsert');
    },
    schemaChangesSince: (since) => schemaLog.filter((change) => change.version > since),
    schemaVersion: () => schemaVersion,
    fieldPermission,
    setFieldPermission: (userId, table, column, permission) => {
      let map = permissions.get(userId);
      if (!map) {
        map = new Map();
        permissions.set(userId, map);
      }
      if (permission) map.set(permissionKey(table, column), permission);
      else map.delete(permissionKey(table, column));
    },
    securedPermissions: (userId) => {
      const result: Array<{ table: TableDefinition; column: ColumnDefinition; permission: FieldPermission }> = [];
      for (const { definition } of states.values()) {
        for (const column of definition.columns.values()) {
          if (!column.isSecured) continue;
          const explicit = admins.has(userId) ? FULL_ACCESS : permissions.get(userId)?.get(permissionKey(definition.logicalName, column.logicalName));
          if (explicit) result.push({ table: definition, column, permission: explicit });
        }
      }
      return result;
    },
    isAdmin: (userId) => admins.has(userId),
    rowFilter: (userId, table) => rowFilters.get(userId)?.get(table),
    setRowFilter: (userId, table, filter) => {
      let map = rowFilters.get(userId);
      if (!map) {
        map = new Map();
        rowFilters.set(userId, map);
      }
      if (filter) map.set(table, filter);
      else map.delete(table);
    },
    userExists: (userId) => getRow('systemuser', userId) !== undefined,
    expiredTokenVersion: () => expiredBelowOrAt,
    expireDeltaTokens: () => {
      expiredBelowOrAt = version;
      version += 1;
    },
    deltaTokenMaxAgeMs: options.deltaTokenMaxAgeMs ?? 7 * 86_400_000,
    quirks: options.quirks ?? NO_QUIRKS,
    overlaySize: () => {
      let total = 0;
      for (const state of states.values()) total += state.overlay.size;
      return total;
    },
  };
}

/** A row's value for a JSON property, lookups as their id (used by $filter and $orderby). */
export function valueOfColumn(row: Row, column: ColumnDefinition): Value {
  const value = row[column.logicalName];
  if (value === undefined) return null;
  if (isLookup(column)) return typeof value === 'object' && value !== null ? value.id : null;
  return value;
}

