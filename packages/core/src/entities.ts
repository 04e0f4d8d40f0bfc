import { SyncError } from './errors.js';
import { cycleOrder } from './rules/order.js';

/**
 * R1: `both` for persons (lead, contact); `crm-to-local` for everything else, custom entities included.
 */
export type SyncDirection = 'both' | 'crm-to-local';

/** R2: which side wins when the same field changed on both sides since the last agreed value. */
export type CollisionWinner = 'local' | 'crm';

/** What an entity is to the rules: persons sync both ways, accounts fan out to contacts (R4, R7). */
export type EntityKind = 'person' | 'account' | 'reference';

/**
 * R15: a lookup column and the entities it may point to. `accountLink` marks the lookup that ties a
 * contact to its account (only when the value points to an account).
 */
export interface RelationshipDefinition {
  /** Lookup attribute logical name, e.g. `parentcustomerid`. Locally the field holds the target GUID. */
  field: string;
  /** Logical names of the entities it may point to, e.g. `['account', 'contact']`. */
  targets: readonly string[];
  /** True for contact.parentcustomerid: the account whose fields this record mirrors (R4). */
  accountLink?: boolean;
}

/**
 * An entity as the rules see it. CRM-side names (a Dataverse entity set, the primary key column)
 * are the adapter's business: it reads them from the CRM's metadata by the logical name.
 */
export interface EntityDefinition {
  /** Logical name, e.g. `contact`; the key everywhere in crm-sync. */
  name: string;
  kind: EntityKind;
  /** R1 */
  direction: SyncDirection;
  /** R2 */
  collisionWinner: CollisionWinner;
  /** R15 */
  relationships: readonly RelationshipDefinition[];
  /** R11: boolean field whose explicit `false` keeps a record out of the sync; null = no filter. */
  syncFilterField: string | null;
  /** R16: place in the cycle (lower first); dependencies come before dependents. */
  order: number;
  /** True for entities declared by configuration. */
  custom: boolean;
}

/** The default R11 filter field, as Marketo names it. */
export const DEFAULT_SYNC_FILTER_FIELD = 'new_synctomkto';

const owner: RelationshipDefinition = { field: 'ownerid', targets: ['systemuser', 'team'] };

function oneWay(
  name: string,
  order: number,
  kind: EntityKind,
  relationships: RelationshipDefinition[] = [],
): EntityDefinition {
  return {
    name,
    kind,
    direction: 'crm-to-local',
    collisionWinner: 'crm',
    relationships,
    syncFilterField: DEFAULT_SYNC_FILTER_FIELD,
    order,
    custom: false,
  };
}

/** The built-in entities in cycle order (R16): users, teams, accounts, contacts, leads, opportunities. */
export const builtInEntities: readonly EntityDefinition[] = [
  oneWay('systemuser', 10, 'reference'),
  oneWay('team', 20, 'reference'),
  oneWay('account', 30, 'account', [owner]),
  {
    name: 'contact',
    kind: 'person',
    direction: 'both',
    collisionWinner: 'crm',
    relationships: [{ field: 'parentcustomerid', targets: ['account', 'contact'], accountLink: true }, owner],
    syncFilterField: DEFAULT_SYNC_FILTER_FIELD,
    order: 40,
    custom: false,
  },
  {
    name: 'lead',
    kind: 'person',
    direction: 'both',
    collisionWinner: 'local',
    relationships: [owner],
    syncFilterField: DEFAULT_SYNC_FILTER_FIELD,
    order: 50,
    custom: false,
  },
  oneWay('opportunity', 60, 'reference', [
    { field: 'customerid', targets: ['account', 'contact'] },
    owner,
  ]),
];

/** A custom entity as configuration declares it (always CRM to local, R1). */
export interface CustomEntityInput {
  /** The CRM's logical name of the table, e.g. `new_membership`. */
  name: string;
  relationships?: RelationshipDefinition[];
  syncFilterField?: string | null;
}

export interface EntityRegistry {
  /** Every entity in cycle order (R16). */
  readonly all: readonly EntityDefinition[];
  /** The definition, or a SyncError ENTITY_UNKNOWN naming the known entities. */
  get(name: string): EntityDefinition;
  has(name: string): boolean;
}

export interface EntityRegistryOptions {
  custom?: readonly CustomEntityInput[];
  /** Overrides the R11 filter field for every entity (null turns the filter off). */
  syncFilterField?: string | null;
}

/** The registry: built-ins plus custom entities from configuration, after every built-in (R16). */
export function createEntityRegistry(options: EntityRegistryOptions = {}): EntityRegistry {
  const filter = options.syncFilterField === undefined ? DEFAULT_SYNC_FILTER_FIELD : options.syncFilterField;
  const entities = builtInEntities.map((e) => ({ ...e, syncFilterField: filter }));
  (options.custom ?? []).forEach((c, i) => {
    if (entities.some((e) => e.name === c.name)) {
      throw new SyncError('CONFIG_INVALID', `Custom entity "${c.name}" is already defined`, {
        details: { entity: c.name },
      });
    }
    entities.push({
      name: c.name,
      kind: 'reference',
      direction: 'crm-to-local',
      collisionWinner: 'crm',
      relationships: c.relationships ?? [],
      syncFilterField: c.syncFilterField === undefined ? filter : c.syncFilterField,
      order: 100 + i,
      custom: true,
    });
  });
  const all = cycleOrder(entities);
  const byName = new Map(all.map((e) => [e.name, e]));
  return {
    all,
    has: (name) => byName.has(name),
    get(name) {
      const entity = byName.get(name);
      if (!entity) {
        throw new SyncError('ENTITY_UNKNOWN', `Unknown entity "${name}"; known: ${[...byName.keys()].join(', ')}`, {
          details: { entity: name },
        });
      }
      return entity;
    },
  };
}

/** The lookup that links records of this entity to an account (R4, R15), if any. */
export function accountLinkOf(entity: EntityDefinition): RelationshipDefinition | undefined {
  return entity.relationships.find((r) => r.accountLink);
}
