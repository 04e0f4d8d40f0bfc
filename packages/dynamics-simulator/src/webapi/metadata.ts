import { errors } from '../odata/errors.js';
import { checkFilter, evaluateFilter, parseFilter } from '../odata/filter.js';
import type { FilterExpr } from '../odata/filter.js';
import type { Org } from '../org.js';
import { isLookup } from '../schema.js';
import type { ColumnDefinition, OptionDefinition, TableDefinition } from '../schema.js';
import type { WebApiContext } from './context.js';
import { jsonResponse } from './http.js';

type Json = Record<string, unknown>;

function label(text: string, id: string): Json {
  const localized = { Label: text, LanguageCode: 1033, IsManaged: true, MetadataId: id, HasChanged: null };
  return { LocalizedLabels: [localized], UserLocalizedLabel: localized };
}

const METADATA_TYPE: Record<ColumnDefinition['type'], string> = {
  String: 'StringAttributeMetadata',
  Memo: 'MemoAttributeMetadata',
  Integer: 'IntegerAttributeMetadata',
  BigInt: 'BigIntAttributeMetadata',
  Decimal: 'DecimalAttributeMetadata',
  Double: 'DoubleAttributeMetadata',
  Money: 'MoneyAttributeMetadata',
  Boolean: 'BooleanAttributeMetadata',
  DateTime: 'DateTimeAttributeMetadata',
  Picklist: 'PicklistAttributeMetadata',
  State: 'StateAttributeMetadata',
  Status: 'StatusAttributeMetadata',
  Lookup: 'LookupAttributeMetadata',
  Customer: 'LookupAttributeMetadata',
  Owner: 'LookupAttributeMetadata',
  Uniqueidentifier: 'UniqueIdentifierAttributeMetadata',
};

const ENTITY_PROPERTIES = [
  'MetadataId', 'LogicalName', 'SchemaName', 'EntitySetName', 'LogicalCollectionName', 'CollectionSchemaName', 'PrimaryIdAttribute',
  'PrimaryNameAttribute', 'ObjectTypeCode', 'OwnershipType', 'IsCustomEntity', 'IsActivity', 'ChangeTrackingEnabled',
  'CanChangeTrackingBeEnabled', 'IsOptimisticConcurrencyEnabled', 'IsValidForAdvancedFind', 'DisplayName', 'DisplayCollectionName',
];
const ATTRIBUTE_PROPERTIES = [
  'MetadataId', 'LogicalName', 'SchemaName', 'EntityLogicalName', 'AttributeType', 'AttributeTypeName', 'IsCustomAttribute',
  'IsValidForRead', 'IsValidForCreate', 'IsValidForUpdate', 'IsSecured', 'CanBeSecuredForRead', 'CanBeSecuredForCreate',
  'CanBeSecuredForUpdate', 'IsPrimaryId', 'IsPrimaryName', 'IsValidODataAttribute', 'AttributeOf', 'RequiredLevel', 'DisplayName',
];
/** Properties only a type cast segment can select. */
const DERIVED_PROPERTIES: Record<string, string[]> = {
  StringAttributeMetadata: ['MaxLength', 'Format'],
  MemoAttributeMetadata: ['MaxLength', 'Format'],
  IntegerAttributeMetadata: ['MinValue', 'MaxValue', 'Format'],
  MoneyAttributeMetadata: ['MinValue', 'MaxValue', 'Precision'],
  DecimalAttributeMetadata: ['MinValue', 'MaxValue', 'Precision'],
  DoubleAttributeMetadata: ['MinValue', 'MaxValue', 'Precision'],
  DateTimeAttributeMetadata: ['Format', 'DateTimeBehavior'],
  LookupAttributeMetadata: ['Targets'],
  PicklistAttributeMetadata: ['OptionSet', 'DefaultFormValue'],
  StateAttributeMetadata: ['OptionSet'],
  StatusAttributeMetadata: ['OptionSet'],
  BooleanAttributeMetadata: ['OptionSet', 'DefaultValue'],
  BigIntAttributeMetadata: ['MinValue', 'MaxValue'],
  UniqueIdentifierAttributeMetadata: [],
};

export function entityMetadata(table: TableDefinition): Json {
  return {
    MetadataId: table.metadataId,
    LogicalName: table.logicalName,
    SchemaName: table.schemaName,
    EntitySetName: table.entitySetName,
    LogicalCollectionName: table.entitySetName,
    CollectionSchemaName: `${table.schemaName}s`,
    PrimaryIdAttribute: table.primaryIdAttribute,
    PrimaryNameAttribute: table.primaryNameAttribute,
    ObjectTypeCode: table.objectTypeCode,
    OwnershipType: table.ownershipType,
    IsCustomEntity: table.isCustomEntity,
    IsActivity: false,
    ChangeTrackingEnabled: table.changeTrackingEnabled,
    CanChangeTrackingBeEnabled: { Value: true, CanBeChanged: false, ManagedPropertyLogicalName: 'canchangetrackingbeenabled' },
    IsOptimisticConcurrencyEnabled: true,
    IsValidForAdvancedFind: true,
    DisplayName: label(table.displayName, table.metadataId),
    DisplayCollectionName: label(table.displayCollectionName, table.metadataId),
  };
}

function optionSet(column: ColumnDefinition): Json {
  const option = (entry: OptionDefinition | undefined): Json | null =>
    entry ? { Value: entry.value, Label: label(entry.label, column.metadataId) } : null;
  if (column.type === 'Boolean') {
    return { MetadataId: column.metadataId, Name: column.logicalName, OptionSetType: 'Boolean', FalseOption: option(column.options?.[0]), TrueOption: option(column.options?.[1]) };
  }
  return {
    MetadataId: column.metadataId,
    Name: `${column.logicalName}`,
    OptionSetType: column.type,
    Options: (column.options ?? []).map((entry) => option(entry)),
  };
}

export function attributeMetadata(table: TableDefinition, column: ColumnDefinition, withOptionSet: boolean): Json {
  const type = METADATA_TYPE[column.type];
  const json: Json = {
    '@odata.type': `#Microsoft.Dynamics.CRM.${type}`,
    MetadataId: column.metadataId,
    LogicalName: column.logicalName,
    SchemaName: column.schemaName,
    EntityLogicalName: table.logicalName,
    AttributeType: column.type,
    AttributeTypeName: { Value: `${column.type}Type` },
    IsCustomAttribute: column.isCustom,
    IsValidForRead: column.isValidForRead,
    IsValidForCreate: column.isValidForCreate,
    IsValidForUpdate: column.isValidForUpdate,
    IsSecured: column.isSecured,
    CanBeSecuredForRead: column.canBeSecured && column.type !== 'Boolean',
    CanBeSecuredForCreate: column.canBeSecured,
    CanBeSecuredForUpdate: column.canBeSecured,
    IsPrimaryId: column.isPrimaryId,
    IsPrimaryName: column.isPrimaryName,
    IsValidODataAttribute: true,
    AttributeOf: null,
    RequiredLevel: { Value: column.requiredLevel, CanBeChanged: true, ManagedPropertyLogicalName: 'canmodifyrequirementlevelsettings' },
    DisplayName: label(column.displayName, column.metadataId),
  };
  if (column.maxLength !== undefined) json.MaxLength = column.maxLength;
  if (column.minValue !== undefined) json.MinValue = column.minValue;
  if (column.maxValue !== undefined) json.MaxValue = column.maxValue;
  if (column.type === 'Money' || column.type === 'Decimal') json.Precision = 2;
  if (column.type === 'DateTime') {
    json.Format = 'DateAndTime';
    json.DateTimeBehavior = { Value: 'UserLocal' };
  }
  if (column.type === 'String') json.Format = 'Text';
  if (isLookup(column)) json.Targets = column.targets ?? [];
  if (withOptionSet && column.options) json.OptionSet = optionSet(column);
  return json;
}

export function pick(json: Json, select: string[] | null): Json {
  if (!select) return json;
  const out: Json = {};
  if ('@odata.type' in json) out['@odata.type'] = json['@odata.type'];
  for (const name of select) if (name in json) out[name] = json[name];
  // MetadataId is always returned.
  out.MetadataId = json.MetadataId;
  return out;
}

function pathValue(json: Json, path: string): unknown {
  let current: unknown = json;
  for (const segment of path.split('/')) {
    if (typeof current !== 'object' || current === null) return null;
    current = (current as Json)[segment];
  }
  return current ?? null;
}

function parseSelect(text: string | null, allowed: string[], typeName: string): string[] | null {
  if (text === null) return null;
  const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '');
  for (const name of names) {
    if (!allowed.includes(name)) throw errors.badRequest(`Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.${typeName}'.`);
  }
  return names;
}

function parseMetadataFilter(text: string | null, allowed: string[], typeName: string): FilterExpr | null {
  if (text === null) return null;
  const filter = parseFilter(text);
  checkFilter(filter, (path) => {
    const root = path.split('/')[0]!;
    if (!allowed.includes(root)) throw errors.badRequest(`Could not find a property named '${root}' on type 'Microsoft.Dynamics.CRM.${typeName}'.`);
    return 'any';
  });
  return filter;
}

function findTable(org: Org, key: string): TableDefinition {
  const byName = /^LogicalName='([^']*)'$/.exec(key);
  const table = byName ? org.table(byName[1]!) : org.tables().find((candidate) => candidate.metadataId === key.toLowerCase());
  if (!table) throw errors.badRequest(`Could not find entity with key '${key}'.`, '0x80040217');
  return table;
}

/** GET EntityDefinitions[...]: no paging, everything in one response (like the real service). */
export function readMetadata(context: WebApiContext, segments: string[]): Response {
  const { org, serviceRoot, url } = context;
  const params = url.searchParams;
  const head = segments[0]!;
  const keyMatch = /^EntityDefinitions(?:\((.*)\))?$/.exec(head);
  if (!keyMatch) throw errors.segmentNotFound(head);
  const entityKey = keyMatch[1];
  if (entityKey === undefined) {
    if (segments.length > 1) throw errors.segmentNotFound(segments[1]!);
    const select = parseSelect(params.get('$select'), ENTITY_PROPERTIES, 'EntityMetadata');
    const filter = parseMetadataFilter(params.get('$filter'), ENTITY_PROPERTIES, 'EntityMetadata');
    const value = org
      .tables()
      .map(entityMetadata)
      .filter((json) => !filter || evaluateFilter(filter, (path) => pathValue(json, path)))
      .map((json) => pick(json, select));
    const selectSuffix = select ? `(${select.join(',')})` : '';
    return jsonResponse(200, { '@odata.context': `${serviceRoot}$metadata#EntityDefinitions${selectSuffix}`, value });
  }
  const table = findTable(org, entityKey);
  if (segments.length === 1) {
    const select = parseSelect(params.get('$select'), ENTITY_PROPERTIES, 'EntityMetadata');
    const json = pick(entityMetadata(table), select);
    const expand = params.get('$expand');
    if (expand !== null) {
      const match = /^Attributes(?:\(\$select=([^)]*)\))?$/.exec(expand);
      if (!match) throw errors.badRequest(`Could not find a property named '${expand}' on type 'Microsoft.Dynamics.CRM.EntityMetadata'.`);
      const attributeSelect = parseSelect(match[1] ?? null, ATTRIBUTE_PROPERTIES, 'AttributeMetadata');
      json.Attributes = [...table.columns.values()].map((column) => pick(attributeMetadata(table, column, false), attributeSelect));
    }
    const selectSuffix = select ? `(${select.join(',')})` : '';
    return jsonResponse(200, { '@odata.context': `${serviceRoot}$metadata#EntityDefinitions${selectSuffix}/$entity`, ...json });
  }
  const attributesMatch = /^Attributes(?:\((.*)\))?$/.exec(segments[1]!);
  if (!attributesMatch) throw errors.segmentNotFound(segments[1]!);
  const cast = segments[2];
  let castType: string | undefined;
  if (cast !== undefined) {
    castType = /^Microsoft\.Dynamics\.CRM\.(\w+AttributeMetadata)$/.exec(cast)?.[1];
    if (!castType || !(castType in DERIVED_PROPERTIES) || segments.length > 3) throw errors.segmentNotFound(cast);
  }
  const allowed = [...ATTRIBUTE_PROPERTIES, ...(castType ? DERIVED_PROPERTIES[castType]! : [])];
  const typeName = castType ?? 'AttributeMetadata';
  const select = parseSelect(params.get('$select'), allowed, typeName);
  const expand = params.get('$expand');
  if (expand !== null && !/^(OptionSet|GlobalOptionSet)(\(\$select=[^)]*\))?$/.test(expand)) {
    throw errors.badRequest(`Could not find a property named '${expand}' on type 'Microsoft.Dynamics.CRM.${typeName}'.`);
  }
  if (expand !== null && !castType) throw errors.badRequest(`Could not find a property named 'OptionSet' on type 'Microsoft.Dynamics.CRM.AttributeMetadata'.`);
  const filter = parseMetadataFilter(params.get('$filter'), allowed, typeName);
  const columns = [...table.columns.values()].filter((column) => !castType || METADATA_TYPE[column.type] === castType);
  const selectSuffix = select ? `(${[...select, ...(expand ? ['OptionSet'] : [])].join(',')})` : '';
  const base = `${serviceRoot}$metadata#EntityDefinitions('${table.metadataId}')/Attributes${castType ? `/Microsoft.Dynamics.CRM.${castType}` : ''}${selectSuffix}`;
  const attributeKey = attributesMatch[1];
  if (attributeKey !== undefined) {
    const byName = /^LogicalName='([^']*)'$/.exec(attributeKey);
    const column = columns.find((candidate) => (byName ? candidate.logicalName === byName[1] : candidate.metadataId === attributeKey.toLowerCase()));
    if (!column) throw errors.badRequest(`Could not find attribute with key '${attributeKey}'.`, '0x80040217');
    return jsonResponse(200, { '@odata.context': `${base}/$entity`, ...pick(attributeMetadata(table, column, expand !== null), select) });
  }
  const value = columns
    .map((column) => attributeMetadata(table, column, expand !== null))
    .filter((json) => !filter || evaluateFilter(filter, (path) => pathValue(json, path)))
    .map((json) => {
      const picked = pick(json, select);
      if (expand !== null && json.OptionSet) picked.OptionSet = json.OptionSet;
      return picked;
    });
  return jsonResponse(200, { '@odata.context': base, value });
}
