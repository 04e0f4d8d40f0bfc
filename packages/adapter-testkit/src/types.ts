import type { CrmAdapter, FieldMap } from '@crm-sync/core';

/**
 * A hand on the CRM behind the adapter, for what the adapter's own API cannot do: change rows as
 * someone else, change the schema and the sync user's access, break things. The suite seeds and
 * checks rows through it, so writes are checked where they landed instead of through the adapter.
 * Every method acts at once (when its promise settles the CRM has changed).
 */
export interface CrmControl {
  /** The sync user's id, as `whoAmI()` must report it. */
  readonly syncUserId: string;
  /** Inserts a row with this id as another user (never the sync user). */
  insert(entity: string, id: string, fields: FieldMap): Promise<void>;
  /** Changes some fields of a row as another user. */
  update(entity: string, id: string, fields: FieldMap): Promise<void>;
  /** Deletes a row as another user. */
  delete(entity: string, id: string): Promise<void>;
  /** The row's current values (at least every field the suite wrote), or null when there is no such row. */
  read(entity: string, id: string): Promise<FieldMap | null>;
  /** Ids of every row of the entity. */
  ids(entity: string): Promise<string[]>;
  /** Adds a text column every user can read and update (a custom column, as a CRM admin would). */
  addColumn(entity: string, name: string): Promise<void>;
  /**
   * Field security on a column the suite added with `addColumn`: what the sync user may do with it
   * from now on (the CRM admin changed it; the adapter was not told).
   */
  setFieldAccess(entity: string, name: string, access: { read: boolean; update: boolean }): Promise<void>;
  /**
   * Every change token (checkpoint) the CRM issued so far stops working, as an expired one does.
   * Omit it when the CRM has no such tokens: those tests are skipped with that reason.
   */
  expireChangeTokens?(): Promise<void>;
  /**
   * The next read of this entity's rows delivers one row the adapter cannot read (a value of the
   * wrong type, as a bad response would), once. Omit it when the CRM cannot be made to: those tests
   * are skipped with that reason.
   */
  damageNextRead?(entity: string): Promise<void>;
}

/** What the factory hands each test: a fresh adapter and the CRM behind it. */
export interface AdapterUnderTest {
  adapter: CrmAdapter;
  control: CrmControl;
  /** Called after each test (after `adapter.close()`): stop servers, drop data. */
  cleanup?: () => Promise<void>;
}

/** What the suite asks of the adapter it gets. */
export interface AdapterSettings {
  /** Rows per page the adapter should read (small, so a few rows make several pages). */
  pageSize: number;
}

/**
 * Creates a fresh adapter for one test, over a CRM whose `lead` and `account` tables exist and hold
 * no rows. Tests share nothing and run in any order.
 */
export type AdapterFactory = (settings: AdapterSettings) => Promise<AdapterUnderTest>;
