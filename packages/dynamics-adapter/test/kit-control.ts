import type { CrmControl } from '@crm-sync/adapter-testkit';
import type { FieldMap } from '@crm-sync/core';
import type { Simulator } from '@crm-sync/dynamics-simulator';

/**
 * The conformance suite's hand on a simulated org: rows changed as a salesperson (never the sync
 * user), columns and field security as an admin would, delta tokens expired, a damaged row injected.
 */
export function simulatorControl(sim: Simulator): CrmControl {
  const control = sim.control;
  const asUser = sim.users.staff[0]?.id ?? sim.users.admin.id;
  const table = (entity: string) => {
    const found = sim.org.table(entity);
    if (!found) throw new Error(`the simulated org has no table ${entity}`);
    return found;
  };
  return {
    syncUserId: sim.users.sync.id,
    insert: async (entity, id, fields) => {
      control.insertRow(entity, fields, { asUser, id });
    },
    update: async (entity, id, fields) => {
      control.updateRow(entity, id, fields, { asUser });
    },
    delete: async (entity, id) => control.deleteRow(entity, id, { asUser }),
    read: async (entity, id) => {
      const row = control.getRow(entity, id);
      return row === null ? null : (Object.fromEntries(Object.entries(row).filter(([key]) => !key.includes('@'))) as FieldMap);
    },
    ids: async (entity) => {
      const ids: string[] = [];
      for (let position = 0; position < sim.org.size(entity); position++) {
        const row = sim.org.rowAt(entity, position);
        if (row) ids.push(row.id);
      }
      return ids;
    },
    addColumn: async (entity, name) => {
      control.addColumn(entity, { logicalName: name, type: 'String', maxLength: 100, isCustom: true });
    },
    setFieldAccess: async (entity, name, access) => {
      control.setFieldSecurity({ table: entity, column: name, secured: true });
      control.setFieldSecurity({ table: entity, column: name, userId: sim.users.sync.id, canRead: access.read, canUpdate: access.update, canCreate: access.update });
    },
    expireChangeTokens: async () => control.expireDeltaTokens(),
    damageNextRead: async (entity) => {
      const { entitySetName, primaryIdAttribute } = table(entity);
      // Only reads of rows with columns (a parallel load's key-only read selects the key alone), and
      // seed 1 damages a column the suite asked for: the adapter reads a damaged modifiedon or
      // modifiedby leniently, as a missing stamp.
      const path = `/${entitySetName}?$select=${primaryIdAttribute},`;
      control.setFaults({ seed: 1, rules: [{ kind: 'wrong-type', rate: 1, path, method: 'GET', limit: 1 }] });
    },
  };
}

/** A simulated org with empty tables (users only), as the suite expects. */
export const emptyOrg = { seed: 20, accounts: 0, contacts: 0, leads: 0, opportunities: 0, memberships: 0, teams: 0, users: 3 } as const;
