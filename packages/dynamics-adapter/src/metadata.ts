import { isSyncError, SyncError } from '@crm-sync/core';
import type { CrmEntitySchema, CrmField, EntityDefinition, FieldValueKind } from '@crm-sync/core';
import type { HttpClient } from './http.js';
import { getJsonObject } from './json-read.js';
import { parsePage } from './odata/parse.js';
import { guid, name, stringLiteral } from './odata/query.js';
import { LOOKUP_TYPES } from './odata/types.js';
import type { AttributeInfo, EntityMetadata, LookupBinding } from './odata/types.js';

export interface WhoAmI {
  userId: string;
  organizationId: string | null;
}

export interface Described {
  schema: CrmEntitySchema;
  metadata: EntityMetadata;
}

export interface MetadataService {
  whoAmI(signal?: AbortSignal): Promise<WhoAmI>;
  /**
   * Metadata and field access of a table: read again after `maxAgeMs` or when `fresh` (R9: columns
   * added later appear), else reused. Starts the period in which data and writes confirm field access (below).
   */
  describe(entity: EntityDefinition, signal?: AbortSignal, fresh?: boolean): Promise<Described>;
  /**
   * The table's metadata with its secured columns and field access read since its last describe (a
   * request listing the secured columns when the definition is older; the access request, shared by
   * all tables, when the table has secured columns): pulls call it before handing out rows, writes
   * before sending values, so a column secured or a privilege lost since the plan is never read as
   * null or written blindly. `now`: read since this moment instead (a write was just refused).
   */
  confirmAccess(entity: EntityDefinition, signal?: AbortSignal, now?: boolean): Promise<EntityMetadata>;
  /** Drops a table's cached definition (a request built from it was refused): the next use reads it again. */
  forget(entity: EntityDefinition): void;
  /**
   * The column-change feed (RetrieveMetadataChanges) answered at `checkedAt`, covering every change
   * since `since` (its baseline): definitions read after `since` stay valid past `maxAgeMs` while
   * the feed keeps being read, since it drops the ones that change.
   */
  watched(since: number, checkedAt: number): void;
  /**
   * Metadata that knows every one of `fields`: the cached one if it does, else the definition read again.
   * Throws FIELD_NOT_IN_CRM naming fields the CRM does not have.
   */
  resolveFields(entity: EntityDefinition, fields: readonly string[], signal?: AbortSignal): Promise<{ metadata: EntityMetadata; attributes: AttributeInfo[] }>;
  /** How a lookup binds to one of its targets on writes (`<nav>@odata.bind`). */
  binding(metadata: EntityMetadata, attribute: AttributeInfo, target: string, signal?: AbortSignal): Promise<LookupBinding>;
  /** EntitySetName of a table. */
  entitySet(logicalName: string, signal?: AbortSignal): Promise<string>;
}

const ATTRIBUTE_SELECT = [
  'LogicalName',
  'SchemaName',
  'AttributeType',
  'AttributeTypeName',
  'AttributeOf',
  'IsCustomAttribute',
  'IsValidForRead',
  'IsValidForUpdate',
  'IsValidForCreate',
  'IsValidODataAttribute',
  'IsSecured',
  'RequiredLevel',
].join(',');

/**
 * Columns whose derived metadata the adapter needs (lookup Targets, string and memo MaxLength): read
 * without `$select`, each comes with the properties of its type.
 */
const TYPED_COLUMNS = ['Lookup', 'Customer', 'Owner', 'String', 'Memo']
  .map((type) => `AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'${type}'`)
  .join(' or ');

/** Limits by column logical name; a column absent from a map has no known limit of that kind. */
interface Constraints {
  maxLength: Map<string, number>;
  options: Map<string, number[]>;
}

/** RequiredLevel values with which the CRM requires a value. */
const REQUIRED_LEVELS = new Set(['SystemRequired', 'ApplicationRequired']);

/** Attribute types that hold no value of their own in the Web API. */
const NO_VALUE_TYPES = new Set(['Virtual', 'EntityName', 'PartyList', 'CalendarRules', 'ManagedProperty']);

/** Dataverse AttributeType -> what core's rules know the column holds; types not listed are `other`. */
const VALUE_KINDS: Readonly<Record<string, FieldValueKind>> = {
  String: 'text', Memo: 'text', Integer: 'integer', BigInt: 'integer', Decimal: 'number', Double: 'number', Money: 'number',
  Boolean: 'boolean', DateTime: 'datetime', Picklist: 'choice', State: 'choice', Status: 'choice',
  Lookup: 'lookup', Customer: 'lookup', Owner: 'lookup', Uniqueidentifier: 'id',
};

/** Columns Dataverse maintains on every write (stamps, row versions): core leaves them out of an "all" selection. */
const BOOKKEEPING_COLUMNS = new Set([
  'versionnumber', 'modifiedon', 'modifiedby', 'modifiedonbehalfby', 'createdon', 'createdby', 'createdonbehalfby',
  'overriddencreatedon', 'importsequencenumber', 'timezoneruleversionnumber', 'utcconversiontimezonecode',
]);

interface RawAttribute {
  logicalName: string;
  schemaName: string;
  type: string;
  typeName: string | null;
  attributeOf: string | null;
  custom: boolean;
  validForRead: boolean;
  validForUpdate: boolean;
  validForCreate: boolean;
  validOData: boolean;
  secured: boolean;
  required: boolean;
  metadataId: string;
}

const str = (value: unknown): string | null => (typeof value === 'string' ? value : null);
const bool = (value: unknown, fallback: boolean): boolean => (typeof value === 'boolean' ? value : fallback);
/** FieldPermission flags: 0 = not allowed, 4 = allowed (booleans tolerated). */
const allowed = (value: unknown): boolean => value === true || (typeof value === 'number' && value > 0);

function invalid(what: string, detail: string): SyncError {
  return new SyncError('CRM_RESPONSE_INVALID', `[dynamics-adapter] ${what} returned metadata the adapter cannot read: ${detail}`);
}

function rawAttribute(json: unknown, what: string): RawAttribute {
  if (typeof json !== 'object' || json === null) throw invalid(what, 'an attribute is not an object');
  const a = json as Record<string, unknown>;
  const logicalName = str(a.LogicalName);
  const type = str(a.AttributeType);
  const metadataId = str(a.MetadataId);
  if (!logicalName || !type || !metadataId) throw invalid(what, 'an attribute lacks LogicalName, AttributeType or MetadataId');
  const typeName = a.AttributeTypeName;
  const requiredLevel = typeof a.RequiredLevel === 'object' && a.RequiredLevel !== null ? str((a.RequiredLevel as { Value?: unknown }).Value) : null;
  return {
    logicalName,
    schemaName: str(a.SchemaName) ?? logicalName,
    type,
    typeName: typeof typeName === 'object' && typeName !== null ? str((typeName as { Value?: unknown }).Value) : null,
    attributeOf: str(a.AttributeOf),
    custom: bool(a.IsCustomAttribute, false),
    validForRead: bool(a.IsValidForRead, true),
    validForUpdate: bool(a.IsValidForUpdate, false),
    validForCreate: bool(a.IsValidForCreate, false),
    validOData: bool(a.IsValidODataAttribute, true),
    secured: bool(a.IsSecured, false),
    required: requiredLevel !== null && REQUIRED_LEVELS.has(requiredLevel),
    metadataId: metadataId.toLowerCase(),
  };
}

/** A table's definition as read (EntityDefinitions + lookup targets), before field access is applied. */
interface Definition {
  logical: string;
  what: string;
  entitySet: string;
  primaryKey: string;
  changeTracking: boolean;
  attributes: RawAttribute[];
  lookupTargets: Map<string, string[]>;
  constraints: Constraints;
  secured: boolean;
  at: number;
}

/** The sync user's field-security access (one read covers every table), by attribute MetadataId. */
interface Access {
  byId: Map<string, { read: boolean; update: boolean; create: boolean }>;
  /** When the read was sent: it reflects privileges as of at least this moment. */
  at: number;
}

/** Field access confirmed for a table never described is reused this long. */
const UNDESCRIBED_ACCESS_MS = 60_000;

/** `maxAgeMs`: definitions (columns, change tracking) and field access are read again after this long (R9). */
export function createMetadataService(http: HttpClient, maxAgeMs: number): MetadataService {
  let who: Promise<WhoAmI> | null = null;
  const definitions = new Map<string, Definition>();
  let access: { promise: Promise<Access>; at: number } | null = null;
  const latest = new Map<string, { metadata: EntityMetadata; accessAt: number | null }>();
  /** When each table was last described: data and writes touching secured columns need access read since. */
  const describedAt = new Map<string, number>();
  /** When each table's secured columns were last listed (securedSince). */
  const securedAt = new Map<string, number>();
  const sets = new Map<string, Promise<string>>();
  const relationships = new Map<string, Promise<Map<string, string> | null>>();
  let feed: { since: number; checkedAt: number } | null = null;

  const getJson = async (url: string, what: string, signal?: AbortSignal) => (await getJsonObject(http, url, what, signal)).body;

  const whoAmI = (signal?: AbortSignal): Promise<WhoAmI> => {
    // GET /api/data/v9.2/WhoAmI: the sync user's systemuserid (R13 echoes, field privileges).
    who ??= getJson('WhoAmI', 'WhoAmI', signal).then((body) => {
      const userId = str(body.UserId);
      if (!userId) throw invalid('WhoAmI', 'no UserId');
      return { userId: guid(userId), organizationId: str(body.OrganizationId)?.toLowerCase() ?? null };
    });
    // A failed WhoAmI is not cached.
    who.catch(() => {
      who = null;
    });
    return who;
  };

  const readDefinition = async (entity: EntityDefinition, signal?: AbortSignal): Promise<Definition> => {
    const at = performance.now();
    const logical = name(entity.name, 'entity logical name');
    const what = `EntityDefinitions(LogicalName='${logical}')`;
    const key = `EntityDefinitions(LogicalName=${encodeURIComponent(stringLiteral(logical))})`;
    let body: Record<string, unknown>;
    let typed: Record<string, unknown>;
    let picklists: Record<string, unknown>;
    try {
      [body, typed, picklists] = await Promise.all([
        // GET /api/data/v9.2/EntityDefinitions(LogicalName='x')?$select=...&$expand=Attributes($select=...): one response, no paging.
        getJson(`${key}?$select=LogicalName,EntitySetName,PrimaryIdAttribute,ChangeTrackingEnabled&$expand=Attributes($select=${ATTRIBUTE_SELECT})`, what, signal),
        // GET .../Attributes?$filter=AttributeType eq ...'Lookup' or ...: lookup Targets and MaxLength are properties of derived
        // types, which $select cannot name without a cast; unselected, each column comes whole.
        getJson(`${key}/Attributes?$filter=${encodeURIComponent(TYPED_COLUMNS)}`, `${what} lookups and lengths`, signal),
        // GET .../Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet: options need the cast.
        getJson(`${key}/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet($select=Options)`, `${what} option sets`, signal),
      ]);
    } catch (error) {
      if (isSyncError(error, 'CRM_REQUEST_REJECTED') && (error.details.status === 404 || error.details.status === 400)) {
        throw new SyncError('CRM_REQUEST_REJECTED', `[dynamics-adapter] Entity "${logical}" does not exist in the CRM`, {
          cause: error,
          details: { entity: logical, status: error.details.status },
        });
      }
      throw error;
    }
    const entitySet = str(body.EntitySetName);
    const primaryKey = str(body.PrimaryIdAttribute);
    if (!entitySet || !primaryKey) throw invalid(what, 'no EntitySetName or PrimaryIdAttribute');
    if (!Array.isArray(body.Attributes)) throw invalid(what, 'no Attributes');
    const attributes = body.Attributes.map((json) => rawAttribute(json, what));
    const lookupTargets = new Map<string, string[]>();
    const constraints: Constraints = { maxLength: new Map(), options: new Map() };
    for (const [list, listed] of [[typed.value, 'lookups and lengths'], [picklists.value, 'option sets']] as const) {
      if (!Array.isArray(list)) throw invalid(`${what} ${listed}`, 'no value array');
      for (const row of list) {
        const r = (row ?? {}) as Record<string, unknown>;
        const logicalName = str(r.LogicalName);
        if (!logicalName) continue;
        if (Array.isArray(r.Targets)) lookupTargets.set(logicalName, r.Targets.filter((t): t is string => typeof t === 'string'));
        if (typeof r.MaxLength === 'number') constraints.maxLength.set(logicalName, r.MaxLength);
        const options = (r.OptionSet as { Options?: unknown } | null | undefined)?.Options;
        if (Array.isArray(options)) {
          constraints.options.set(logicalName, options.map((o) => (o as { Value?: unknown } | null)?.Value).filter((v): v is number => typeof v === 'number'));
        }
      }
    }
    const definition: Definition = {
      logical, what, entitySet, primaryKey, changeTracking: body.ChangeTrackingEnabled === true, attributes, lookupTargets, constraints,
      secured: attributes.some((a) => a.secured), at,
    };
    definitions.set(logical, definition);
    return definition;
  };

  /** Field-security access read no earlier than `since` (one request shared by every table and caller). */
  const accessSince = (since: number, signal?: AbortSignal): Promise<Access> => {
    if (access && access.at >= since) return access.promise;
    const at = performance.now();
    const promise = (async (): Promise<Access> => {
      const { userId } = await whoAmI(signal);
      // GET /api/data/v9.2/systemusers(<id>)/Microsoft.Dynamics.CRM.RetrievePrincipalAttributePrivileges(): field security, teams included.
      const body = await getJson(`systemusers(${userId})/Microsoft.Dynamics.CRM.RetrievePrincipalAttributePrivileges()`, 'RetrievePrincipalAttributePrivileges', signal);
      const list = body.AttributePrivileges;
      if (!Array.isArray(list)) throw invalid('RetrievePrincipalAttributePrivileges', 'no AttributePrivileges');
      const byId = new Map<string, { read: boolean; update: boolean; create: boolean }>();
      for (const p of list as Array<Record<string, unknown>>) {
        const id = str(p?.AttributeId);
        if (id) byId.set(id.toLowerCase(), { read: allowed(p.CanRead), update: allowed(p.CanUpdate), create: allowed(p.CanCreate) });
      }
      return { byId, at };
    })();
    const entry = { promise, at };
    access = entry;
    // A failed read is not kept.
    promise.catch(() => {
      if (access === entry) access = null;
    });
    return promise;
  };

  /** Metadata and schema of a definition under the given field access (null: no secured columns). */
  const build = (definition: Definition, acc: Access | null): Described => {
    const { logical, lookupTargets } = definition;
    const fields: CrmField[] = [];
    const attributes = new Map<string, AttributeInfo>();
    for (const a of definition.attributes) {
      const multiSelect = a.type === 'Virtual' && a.typeName === 'MultiSelectPicklistType';
      const type = multiSelect ? 'MultiSelectPicklist' : a.type;
      const lookup = LOOKUP_TYPES.has(type);
      const targetsOf = lookup ? (lookupTargets.get(a.logicalName) ?? []) : [];
      let reasonRead: string | null = null;
      let reasonUpdate: string | null = null;
      // Columns without a value of their own (name/yomi shadows of lookups, virtual columns) are listed, never read.
      if (a.attributeOf) reasonRead = `part of ${a.attributeOf}, not a column of its own`;
      else if (!multiSelect && NO_VALUE_TYPES.has(a.type)) reasonRead = `${a.type} column: no value in the Web API`;
      else if (!a.validOData) reasonRead = 'not available in the Web API (IsValidODataAttribute is false)';
      else if (!a.validForRead) reasonRead = 'not valid for read (IsValidForRead is false)';
      const granted = a.secured ? (acc?.byId.get(a.metadataId) ?? { read: false, update: false, create: false }) : null;
      if (!reasonRead && granted && !granted.read) reasonRead = 'secured by field security and the sync user has no read permission';
      if (!a.validForUpdate) reasonUpdate = 'not valid for update (IsValidForUpdate is false)';
      else if (granted && !granted.update) reasonUpdate = 'secured by field security and the sync user has no update permission';
      const canRead = reasonRead === null;
      const canUpdate = canRead && reasonUpdate === null;
      const field: CrmField = { name: a.logicalName, type, valueKind: VALUE_KINDS[type] ?? 'other', custom: a.custom, canRead, canUpdate, secured: a.secured };
      if (a.logicalName === definition.primaryKey) field.primaryKey = true;
      if (BOOKKEEPING_COLUMNS.has(a.logicalName)) field.systemMaintained = true;
      if (lookup) field.lookupTargets = targetsOf;
      const maxLength = definition.constraints.maxLength.get(a.logicalName);
      if (maxLength !== undefined) field.maxLength = maxLength;
      const options = definition.constraints.options.get(a.logicalName);
      if (options) field.options = options;
      if (a.required) field.required = true;
      const reason = reasonRead ?? reasonUpdate;
      if (reason) field.reason = reason;
      fields.push(field);
      const odataColumn = a.validOData && !a.attributeOf && (multiSelect || !NO_VALUE_TYPES.has(a.type));
      if (odataColumn) {
        attributes.set(a.logicalName, {
          logicalName: a.logicalName,
          schemaName: a.schemaName,
          type,
          lookup,
          targets: targetsOf,
          custom: a.custom,
          validForRead: a.validForRead,
          validForUpdate: a.validForUpdate,
          validForCreate: a.validForCreate,
          secured: a.secured,
          metadataId: a.metadataId,
          canRead,
          canUpdate,
          canCreate: a.validForCreate && (!granted || granted.create),
        });
      }
    }
    fields.sort((x, y) => x.name.localeCompare(y.name));
    const metadata: EntityMetadata = {
      logicalName: logical,
      entitySet: definition.entitySet,
      primaryKey: definition.primaryKey,
      changeTracking: definition.changeTracking,
      attributes,
      hasModifiedOn: attributes.has('modifiedon'),
      hasModifiedBy: attributes.get('modifiedby')?.lookup === true,
    };
    latest.set(logical, { metadata, accessAt: acc?.at ?? null });
    return { schema: { entity: logical, fields, changeTracking: metadata.changeTracking }, metadata };
  };

  /** Metadata from the cached definition and access (`fresh`: the definition is read again). */
  const current = async (entity: EntityDefinition, signal: AbortSignal | undefined, fresh = false): Promise<Described> => {
    const now = performance.now();
    const cached = definitions.get(entity.name);
    // Fresh by age, or read since the change feed's baseline while the feed is read.
    const covered = cached && feed !== null && cached.at >= feed.since && now - feed.checkedAt <= maxAgeMs;
    const definition = !fresh && cached && (covered || now - cached.at <= maxAgeMs) ? cached : await readDefinition(entity, signal);
    const acc = definition.secured ? await accessSince(now - maxAgeMs, signal) : null;
    return build(definition, acc);
  };

  /**
   * Definitions and field access are reused for `maxAgeMs`: a quiet cycle sends no metadata request.
   * Rows or writes that touch a secured column confirm the access first (confirmAccess).
   */
  const describe = async (entity: EntityDefinition, signal?: AbortSignal, fresh = false): Promise<Described> => {
    const now = performance.now();
    describedAt.set(entity.name, now);
    if (!fresh) return current(entity, signal);
    const definition = await readDefinition(entity, signal);
    return build(definition, definition.secured ? await accessSince(now, signal) : null);
  };

  /**
   * The definition with the columns secured now, read with one request when it was read before
   * `since`: a column secured after that would still be selected and read as null. The cached
   * definition takes the new flags, so the next plan leaves an unreadable column out.
   */
  const securedSince = async (definition: Definition, since: number, signal?: AbortSignal): Promise<Definition> => {
    if (Math.max(definition.at, securedAt.get(definition.logical) ?? -Infinity) >= since) return definition;
    const at = performance.now();
    const key = `EntityDefinitions(LogicalName=${encodeURIComponent(stringLiteral(definition.logical))})`;
    // GET /api/data/v9.2/EntityDefinitions(LogicalName='x')/Attributes?$select=LogicalName&$filter=IsSecured eq true
    const body = await getJson(`${key}/Attributes?$select=LogicalName&$filter=IsSecured%20eq%20true`, `${definition.what} secured columns`, signal);
    if (!Array.isArray(body.value)) throw invalid(`${definition.what} secured columns`, 'no value array');
    const secured = new Set(body.value.map((row) => str((row as Record<string, unknown> | null)?.LogicalName)));
    securedAt.set(definition.logical, at);
    if (definition.attributes.every((a) => a.secured === secured.has(a.logicalName))) return definition;
    const attributes = definition.attributes.map((a) => (a.secured === secured.has(a.logicalName) ? a : { ...a, secured: !a.secured }));
    const updated: Definition = { ...definition, attributes, secured: attributes.some((a) => a.secured) };
    // Unless a read since has replaced it.
    if (definitions.get(definition.logical) === definition) definitions.set(definition.logical, updated);
    return updated;
  };

  const confirmAccess: MetadataService['confirmAccess'] = async (entity, signal, now = false) => {
    const since = now ? performance.now() : (describedAt.get(entity.name) ?? performance.now() - UNDESCRIBED_ACCESS_MS);
    const cached = latest.get(entity.name);
    const known = definitions.get(entity.name);
    if (!cached || !known) return (await current(entity, signal)).metadata;
    const definition = await securedSince(known, since, signal);
    const accessFresh = !definition.secured || (cached.accessAt !== null && cached.accessAt >= since);
    if (definition === known && accessFresh) return cached.metadata;
    return build(definition, definition.secured ? await accessSince(since, signal) : null).metadata;
  };

  const forget = (entity: EntityDefinition): void => {
    definitions.delete(entity.name);
    latest.delete(entity.name);
  };

  const resolveFields: MetadataService['resolveFields'] = async (entity, fields, signal) => {
    const pick = (metadata: EntityMetadata) => {
      const missing = fields.filter((f) => !metadata.attributes.has(f));
      return { missing, attributes: fields.filter((f) => metadata.attributes.has(f)).map((f) => metadata.attributes.get(f)!) };
    };
    let { metadata } = await current(entity, signal);
    // Unknown fields may be columns added since (R9): read the definition again before refusing them.
    if (pick(metadata).missing.length > 0) metadata = (await current(entity, signal, true)).metadata;
    const { missing, attributes } = pick(metadata);
    if (missing.length > 0) {
      throw new SyncError('FIELD_NOT_IN_CRM', `[dynamics-adapter] ${entity.name} has no column(s) ${missing.join(', ')} in the CRM`, {
        details: { entity: entity.name, fields: missing },
      });
    }
    return { metadata, attributes };
  };

  const entitySet = (logicalName: string, signal?: AbortSignal): Promise<string> => {
    let promise = sets.get(logicalName);
    if (!promise) {
      const key = `EntityDefinitions(LogicalName=${encodeURIComponent(stringLiteral(name(logicalName, 'entity logical name')))})`;
      // GET /api/data/v9.2/EntityDefinitions(LogicalName='x')?$select=EntitySetName
      promise = getJson(`${key}?$select=EntitySetName`, `${key}`, signal).then((body) => {
        const set = str(body.EntitySetName);
        if (!set) throw invalid(key, 'no EntitySetName');
        return set;
      });
      promise.catch(() => sets.delete(logicalName));
      sets.set(logicalName, promise);
    }
    return promise;
  };

  /** ReferencingAttribute|ReferencedEntity -> navigation property, or null where the service has no relationship metadata. */
  const navigationProperties = (metadata: EntityMetadata, signal?: AbortSignal): Promise<Map<string, string> | null> => {
    let promise = relationships.get(metadata.logicalName);
    if (!promise) {
      const key = `EntityDefinitions(LogicalName=${encodeURIComponent(stringLiteral(metadata.logicalName))})`;
      // GET .../ManyToOneRelationships?$select=ReferencingAttribute,ReferencedEntity,ReferencingEntityNavigationPropertyName
      promise = http
        .send({
          method: 'GET',
          url: `${key}/ManyToOneRelationships?$select=ReferencingAttribute,ReferencedEntity,ReferencingEntityNavigationPropertyName`,
          pass: (status) => status === 400 || status === 404,
          signal,
        })
        .then((response) => {
          if (response.status >= 400) return null;
          const map = new Map<string, string>();
          for (const row of parsePage(response.text, `${key}/ManyToOneRelationships`).rows) {
            const r = row as Record<string, unknown>;
            const attribute = str(r.ReferencingAttribute);
            const target = str(r.ReferencedEntity);
            const nav = str(r.ReferencingEntityNavigationPropertyName);
            if (attribute && target && nav) map.set(`${attribute}|${target}`, nav);
          }
          return map;
        });
      promise.catch(() => relationships.delete(metadata.logicalName));
      relationships.set(metadata.logicalName, promise);
    }
    return promise;
  };

  const binding: MetadataService['binding'] = async (metadata, attribute, target, signal) => {
    const [navigations, targetSet] = await Promise.all([navigationProperties(metadata, signal), entitySet(target, signal)]);
    // Without relationship metadata, Dataverse's naming: polymorphic `<name>_<target>`, custom by SchemaName.
    const fallback = attribute.targets.length > 1 ? `${attribute.logicalName}_${target}` : attribute.custom ? attribute.schemaName : attribute.logicalName;
    return { navigationProperty: navigations?.get(`${attribute.logicalName}|${target}`) ?? fallback, targetEntitySet: targetSet };
  };

  const watched = (since: number, checkedAt: number): void => {
    feed = { since, checkedAt };
  };

  return { whoAmI, describe, confirmAccess, forget, watched, resolveFields, binding, entitySet };
}
