import type { FieldMap } from '@crm-sync/core';
import { createDynamicsAdapter } from '@crm-sync/dynamics-adapter';
import { startSimulatorServer } from '@crm-sync/dynamics-simulator';
import type { SimulatorControl, SimulatorOptions } from '@crm-sync/dynamics-simulator';
import type { CrmHarness, Harness } from './harness.js';
import { fakeCrmWithEmbeddedStore, fakeCrmWithMemoryStore, fakeCrmWithPostgresStore } from './harness.js';

const entitySets: Record<string, string> = {
  account: 'accounts', contact: 'contacts', lead: 'leads', opportunity: 'opportunities', systemuser: 'systemusers',
  team: 'teams', new_membership: 'new_memberships',
};

/**
 * The Dataverse simulator over real HTTP on 127.0.0.1 with the Dynamics adapter: what the engine
 * meets in production, minus the network. Rows are changed through the simulator's control API as
 * a salesperson, never as the sync user. The generated sample data is left out (the scenarios add
 * the rows they need), except users.
 */
export async function simulatorCrm(
  options: SimulatorOptions = {},
  adapterOptions: { reconcileEvery?: number } = {},
): Promise<CrmHarness & { control: SimulatorControl; syncUserId: string }> {
  const server = await startSimulatorServer({
    seed: 11, accounts: 0, contacts: 0, leads: 0, opportunities: 0, memberships: 0, teams: 0, users: 3, limits: { enabled: false },
    ...options,
  });
  const control = server.control;
  const staff = control.users().staff[0]?.id;
  const adapter = createDynamicsAdapter({
    environmentUrl: server.url,
    auth: { kind: 'static-token', token: server.simulator.tokens.sync },
    pageSize: 200,
    retry: { baseDelayMs: 10, maxDelayMs: 200 },
    ...adapterOptions,
  });
  const body = (fields: FieldMap, lookups: Record<string, { id: string; entity: string } | null> = {}) => {
    const values: Record<string, unknown> = { ...fields };
    for (const [name, target] of Object.entries(lookups)) {
      if (target) values[`${name}_${target.entity}@odata.bind`] = `/${entitySets[target.entity]}(${target.id})`;
    }
    return values;
  };
  return {
    adapter,
    control,
    syncUserId: server.simulator.users.sync.id,
    async put(entity, id, fields, lookups) {
      const asUser = staff ? { asUser: staff } : {};
      if (control.getRow(entity, id)) control.updateRow(entity, id, body(fields, lookups), asUser);
      else control.insertRow(entity, body(fields, lookups), { ...asUser, id });
    },
    async remove(entity, id) {
      control.deleteRow(entity, id, staff ? { asUser: staff } : {});
    },
    async get(entity, id) {
      const row = control.getRow(entity, id);
      return row ? (Object.fromEntries(Object.entries(row).filter(([k]) => !k.includes('@'))) as FieldMap) : null;
    },
    async addColumn(entity, name) {
      control.addColumn(entity, { logicalName: name, type: 'String' });
    },
    async secureColumn(entity, name) {
      // No permission row for the sync user: it may neither read nor update the column.
      control.setFieldSecurity({ table: entity, column: name, secured: true });
    },
    async damageNextPull(entity) {
      // The next read of the entity set carries one row with a value of the wrong type.
      control.setFaults({ seed: 1, rules: [{ kind: 'wrong-type', rate: 1, path: `/${entitySets[entity]}`, method: 'GET', limit: 1 }] });
    },
    async expireTokensAndForgetDeletes() {
      control.expireDeltaTokens();
    },
    async close() {
      await server.close();
    },
  };
}

export const simulatorWithMemoryStoreName = 'simulator over HTTP + Dynamics adapter';

/** Pairs the simulator CRM with a store factory from another harness. */
export function withSimulator(storeHarness: Harness): Harness {
  return { name: `${simulatorWithMemoryStoreName} + ${storeHarness.name.split(' + ')[1]}`, crm: () => simulatorCrm(), store: storeHarness.store };
}

/** Every CRM side with every store: the fake CRM and the simulator over HTTP; memory, PostgreSQL and embedded. */
export function allHarnesses(databaseUrl: string): Harness[] {
  const postgres = fakeCrmWithPostgresStore(databaseUrl);
  const stores = [fakeCrmWithMemoryStore, postgres, fakeCrmWithEmbeddedStore];
  return [...stores, ...stores.map(withSimulator)];
}
