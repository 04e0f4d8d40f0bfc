/** A column as the adapter uses it (from AttributeMetadata). */
export interface AttributeInfo {
  logicalName: string;
  /** AttributeType, e.g. `String`, `Lookup`, `Money`. */
  type: string;
  /** Lookup, Customer or Owner: the value is `_<name>_value` with a target annotation. */
  lookup: boolean;
  targets: readonly string[];
  custom: boolean;
  validForRead: boolean;
  validForUpdate: boolean;
  validForCreate: boolean;
  secured: boolean;
  metadataId: string;
  /** The sync user may read values (valid for read and, if secured, read privilege). */
  canRead: boolean;
  /** The sync user may update values (valid for update and, if secured, update privilege). */
  canUpdate: boolean;
  /** The sync user may set the value on create (valid for create and, if secured, create privilege). */
  canCreate: boolean;
  /** SchemaName: custom lookups bind by it. */
  schemaName: string;
}

/** The single-valued navigation property that binds a lookup to one target table. */
export interface LookupBinding {
  navigationProperty: string;
  targetEntitySet: string;
}

/** An entity's metadata as one describe call read it. */
export interface EntityMetadata {
  logicalName: string;
  entitySet: string;
  primaryKey: string;
  changeTracking: boolean;
  /** OData columns by logical name (virtual and non-OData columns left out). */
  attributes: ReadonlyMap<string, AttributeInfo>;
  /** Whether `modifiedon` and `modifiedby` exist (echo detection and watermarks need them). */
  hasModifiedOn: boolean;
  hasModifiedBy: boolean;
}

/** Lookup types carry `_<name>_value` on the wire. */
export const LOOKUP_TYPES: ReadonlySet<string> = new Set(['Lookup', 'Customer', 'Owner']);

/** The JSON property a column appears as. */
export function propertyOf(attribute: Pick<AttributeInfo, 'logicalName' | 'lookup'>): string {
  return attribute.lookup ? `_${attribute.logicalName}_value` : attribute.logicalName;
}
