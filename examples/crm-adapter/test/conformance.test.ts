import { adapterConformance } from '@crm-sync/adapter-testkit';
import { createMemoryCrm, field, SYNC_USER } from '../src/index.js';

adapterConformance('memory-crm', async ({ pageSize }) => {
  const crm = createMemoryCrm({ pageSize });
  crm.defineTable('lead', [field('firstname', { maxLength: 50 }), field('lastname', { maxLength: 50, required: true }), field('emailaddress1', { maxLength: 100 })]);
  crm.defineTable('account', [field('name', { maxLength: 160 })]);
  return {
    adapter: crm,
    control: {
      syncUserId: SYNC_USER,
      // put, remove: as a salesperson, never as the sync user.
      insert: async (entity, id, fields) => crm.put(entity, id, fields),
      update: async (entity, id, fields) => crm.put(entity, id, fields),
      delete: async (entity, id) => crm.remove(entity, id),
      read: async (entity, id) => crm.row(entity, id)?.fields ?? null,
      ids: async (entity) => crm.ids(entity),
      addColumn: async (entity, name) => crm.addField(entity, field(name, { custom: true })),
      setFieldAccess: async (entity, name, access) => crm.secureField(entity, name, access),
      expireChangeTokens: async () => crm.expireCheckpoints(),
      damageNextRead: async (entity) => {
        const [first] = crm.ids(entity);
        if (first) crm.damageOnce.add(first);
      },
    },
  };
});
