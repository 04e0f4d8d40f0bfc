import { describe, expect, it } from 'vitest';
import { createEntityRegistry, planFields } from '@crm-sync/core';
import { account, adapterFor, apiRequests, contact, failure, lead, pull, useMsw } from './helpers.js';

const msw = useMsw();

describe('whoAmI and describeEntity', () => {
  it('returns the sync user and the organization', async () => {
    const sim = msw.simulate();
    const { crm } = adapterFor(sim);
    expect(await crm.whoAmI()).toEqual({ userId: sim.users.sync.id, organizationId: sim.org.organizationId });
  });

  it('signs in through msal-node against the simulator (MSW answers the login host too)', async () => {
    const sim = msw.simulate({ contacts: 5 });
    const { crm, events } = adapterFor(sim, {
      auth: { kind: 'client-credentials', tenantId: sim.tenantId, clientId: sim.credentials.clientId, clientSecret: sim.credentials.clientSecret },
    });
    expect((await crm.whoAmI()).userId).toBe(sim.users.sync.id);
    await crm.describeEntity(contact);
    expect(events.filter((e) => e.type === 'token')).toEqual([{ type: 'token', forced: false }]);
  });

  it('stops reading metadata, retries included, when its signal is aborted (a graceful stop)', async () => {
    const sim = msw.simulate({ contacts: 5 });
    // Every metadata request answers 429 with a minute's Retry-After: without the signal the read would wait.
    sim.control.setFaults({ rules: [{ kind: '429', rate: 1, path: 'EntityDefinitions', retryAfterSeconds: 60 }] });
    const { crm } = adapterFor(sim, { retry: { baseDelayMs: 10, maxDelayMs: 60_000 } });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 50);
    const error = await crm.describeEntity(contact, { fresh: true, signal: controller.signal }).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('ABORTED');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('lists every column with what the sync user can read and update, and why not', async () => {
    const sim = msw.simulate();
    const { crm } = adapterFor(sim);
    const schema = await crm.describeEntity(contact);
    expect(schema.entity).toBe('contact');
    expect(schema.changeTracking).toBe(true);
    const field = (name: string) => schema.fields.find((f) => f.name === name);
    expect(field('firstname')).toEqual({ name: 'firstname', type: 'String', valueKind: 'text', custom: false, canRead: true, canUpdate: true, secured: false, maxLength: 50 });
    expect(field('fullname')).toMatchObject({ canRead: true, canUpdate: false, reason: expect.stringContaining('IsValidForUpdate') });
    // Secured, no field permission: hidden.
    expect(field('new_creditlimit')).toMatchObject({ secured: true, canRead: false, canUpdate: false, reason: expect.stringContaining('no read permission') });
    // Secured, read granted but not update.
    expect(field('new_riskscore')).toMatchObject({ secured: true, canRead: true, canUpdate: false, reason: expect.stringContaining('no update permission') });
    expect(field('parentcustomerid')).toMatchObject({ type: 'Customer', valueKind: 'lookup', lookupTargets: ['account', 'contact'], canUpdate: true });
    // Dataverse's bookkeeping columns are marked for core, which knows no Dataverse column names.
    expect(field('modifiedon')).toMatchObject({ type: 'DateTime', valueKind: 'datetime', systemMaintained: true });
    expect(field('emailaddress1')).toBeDefined();
    expect(field('emailaddress1')?.systemMaintained).toBeUndefined();
    expect(field('ownerid')).toMatchObject({ type: 'Owner', lookupTargets: ['systemuser', 'team'] });

    const plan = planFields(contact, schema, 'all');
    expect(plan.excluded).toContainEqual({ field: 'new_creditlimit', reason: 'secured-no-read-privilege', detail: expect.any(String) });
    expect(plan.synced).toContain('new_riskscore');
    expect(plan.pushable).not.toContain('new_riskscore');
  });

  it('reads the limits the CRM checks on writes (MaxLength, RequiredLevel, option values) with one request more per table', async () => {
    const sim = msw.simulate({ leads: 5 });
    const { crm } = adapterFor(sim);
    await crm.whoAmI();
    sim.control.clearRequestLog();
    const schema = await crm.describeEntity(lead);
    const field = (name: string) => schema.fields.find((f) => f.name === name);
    expect(field('emailaddress1')).toMatchObject({ type: 'String', maxLength: 100 });
    expect(field('emailaddress1')?.required).toBeUndefined();
    expect(field('lastname')).toMatchObject({ maxLength: 50, required: true });
    expect(field('description')).toMatchObject({ type: 'Memo', maxLength: expect.any(Number) });
    expect(field('leadsourcecode')).toMatchObject({ type: 'Picklist', options: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] });
    expect(field('new_synctomkto')?.options).toBeUndefined();
    // The definition, its lookups and text columns whole (Targets, MaxLength), and its option sets: one request more than before.
    expect(apiRequests(sim).map((r) => `${r.method} ${new URL(r.url).pathname.split('/').pop()}`).sort()).toEqual([
      'GET Attributes',
      "GET EntityDefinitions(LogicalName='lead')",
      'GET Microsoft.Dynamics.CRM.PicklistAttributeMetadata',
    ]);
  });

  it('sees a column hidden by field security after setup, and its values come back null', async () => {
    const sim = msw.simulate({ contacts: 20 });
    const { crm } = adapterFor(sim);
    sim.control.addColumn('contact', { logicalName: 'new_salary', type: 'Money', isSecured: false });
    const id = sim.dataset.idOf('contact', 1);
    sim.control.updateRow('contact', id, { new_salary: 5000 });
    const before = await crm.describeEntity(contact);
    expect(before.fields.find((f) => f.name === 'new_salary')).toMatchObject({ canRead: true, secured: false });
    expect((await pull(crm, contact, ['new_salary'], null)).upserts.find((r) => r.id === id)?.fields.new_salary).toBe(5000);

    sim.control.setFieldSecurity({ table: 'contact', column: 'new_salary', secured: true });
    const after = await crm.describeEntity(contact, { fresh: true });
    expect(after.fields.find((f) => f.name === 'new_salary')).toMatchObject({ canRead: false, secured: true, reason: expect.stringContaining('field security') });
    expect((await pull(crm, contact, ['new_salary'], null)).upserts.find((r) => r.id === id)?.fields.new_salary).toBeNull();

    sim.control.setFieldSecurity({ table: 'contact', column: 'new_salary', userId: sim.users.sync.id, canRead: true, canUpdate: true });
    expect((await crm.describeEntity(contact, { fresh: true })).fields.find((f) => f.name === 'new_salary')).toMatchObject({ canRead: true, canUpdate: true, secured: true });
  });

  it('answers a repeated describe from its cache (a quiet cycle sends no metadata request); fresh reads again', async () => {
    const sim = msw.simulate({ contacts: 5 });
    const { crm } = adapterFor(sim);
    await crm.describeEntity(contact);
    await crm.describeEntity(account);
    sim.control.clearRequestLog();
    await crm.describeEntity(contact);
    await crm.describeEntity(account);
    expect(apiRequests(sim)).toEqual([]);
    await crm.describeEntity(contact, { fresh: true });
    const paths = apiRequests(sim).map((r) => new URL(r.url).pathname);
    expect(paths.some((p) => p.includes("EntityDefinitions(LogicalName='contact')"))).toBe(true);
    expect(paths.some((p) => p.includes('RetrievePrincipalAttributePrivileges'))).toBe(true);

    // Past metadataMaxAgeMs the definition is read again on its own (R9).
    const { crm: shortLived } = adapterFor(sim, { metadataMaxAgeMs: 0 });
    await shortLived.describeEntity(account);
    sim.control.clearRequestLog();
    await shortLived.describeEntity(account);
    expect(apiRequests(sim).filter((r) => r.url.includes("EntityDefinitions(LogicalName='account')"))).not.toEqual([]);
  });

  it('a cached plan never reads a secured column the sync user lost as null: the pull stops with CRM_SCHEMA_CHANGED first', async () => {
    const sim = msw.simulate({ contacts: 20 });
    const { crm } = adapterFor(sim);
    sim.control.setFieldSecurity({ table: 'contact', column: 'new_riskscore', userId: sim.users.sync.id, canRead: true, canUpdate: true });
    const first = await pull(crm, contact, ['firstname', 'new_riskscore'], null);
    // The next cycle's describe comes from the cache, still readable; then access is revoked.
    expect((await crm.describeEntity(contact)).fields.find((f) => f.name === 'new_riskscore')?.canRead).toBe(true);
    sim.control.setFieldSecurity({ table: 'contact', column: 'new_riskscore', userId: sim.users.sync.id, canRead: false, canUpdate: false });
    sim.control.updateRow('contact', sim.dataset.idOf('contact', 3), { firstname: 'Changed' });
    const pages: unknown[] = [];
    const error = await failure(
      (async () => {
        for await (const page of crm.pullChanges(contact, { checkpoint: first.checkpoint, fields: ['firstname', 'new_riskscore'] })) pages.push(page);
      })(),
    );
    expect(error.code).toBe('CRM_SCHEMA_CHANGED');
    expect(error.message).toContain('new_riskscore');
    expect(pages).toEqual([]);
    // Planned again, the column is left out and the same checkpoint still works.
    expect((await crm.describeEntity(contact)).fields.find((f) => f.name === 'new_riskscore')?.canRead).toBe(false);
    expect((await pull(crm, contact, ['firstname'], first.checkpoint)).upserts.map((r) => r.fields.firstname)).toEqual(['Changed']);
  });

  it('a cached plan never reads a column secured since as null: the pull stops with CRM_SCHEMA_CHANGED first; a quiet pull checks nothing', async () => {
    const sim = msw.simulate({ contacts: 20 });
    const { crm } = adapterFor(sim);
    sim.control.addColumn('contact', { logicalName: 'new_color', type: 'String' });
    const id = sim.dataset.idOf('contact', 3);
    sim.control.updateRow('contact', id, { new_color: 'teal' });
    const fields = ['firstname', 'new_color'];
    await crm.describeEntity(contact);
    const first = await pull(crm, contact, fields, null);
    expect(first.upserts.find((r) => r.id === id)?.fields.new_color).toBe('teal');

    // A quiet pull of the next cycle: one request, no metadata check.
    await crm.describeEntity(contact);
    sim.control.clearRequestLog();
    const quiet = await pull(crm, contact, fields, first.checkpoint);
    expect(apiRequests(sim)).toHaveLength(1);

    // Field security turned on (the sync user has no permission), then a change: the cached plan still selects the column.
    sim.control.setFieldSecurity({ table: 'contact', column: 'new_color', secured: true });
    sim.control.updateRow('contact', id, { firstname: 'Changed' });
    expect((await crm.describeEntity(contact)).fields.find((f) => f.name === 'new_color')?.canRead).toBe(true);
    const pages: unknown[] = [];
    const error = await failure(
      (async () => {
        for await (const page of crm.pullChanges(contact, { checkpoint: quiet.checkpoint, fields })) pages.push(page);
      })(),
    );
    expect(error.code).toBe('CRM_SCHEMA_CHANGED');
    expect(error.message).toContain('new_color');
    expect(pages).toEqual([]);
    // Planned again, the column is left out with its reason and the same checkpoint still works.
    expect((await crm.describeEntity(contact)).fields.find((f) => f.name === 'new_color')).toMatchObject({
      canRead: false, secured: true, reason: expect.stringContaining('field security'),
    });
    expect((await pull(crm, contact, ['firstname'], quiet.checkpoint)).upserts.map((r) => r.fields)).toEqual([{ firstname: 'Changed' }]);
  });

  it('sees a column added in the CRM after setup (R9), and Quick Sync backfills it without a checkpoint (R10)', async () => {
    const sim = msw.simulate({ contacts: 150 });
    const { crm } = adapterFor(sim);
    const first = await crm.describeEntity(contact);
    expect(first.fields.map((f) => f.name)).toEqual(expect.arrayContaining(['firstname', 'lastname', 'jobtitle']));
    expect(first.fields.map((f) => f.name)).not.toContain('new_tier');
    sim.control.addColumn('contact', { logicalName: 'new_tier', type: 'Integer' });
    const id = sim.dataset.idOf('contact', 7);
    sim.control.updateRow('contact', id, { new_tier: 3 });
    const second = await crm.describeEntity(contact, { fresh: true });
    expect(second.fields.find((f) => f.name === 'new_tier')).toMatchObject({ type: 'Integer', custom: true, canRead: true, canUpdate: true });

    const pages = [];
    for await (const page of crm.readAll(contact, { fields: ['new_tier'] })) pages.push(page);
    expect(pages).toHaveLength(2);
    const rows = pages.flatMap((p) => p.rows);
    expect(rows).toHaveLength(150);
    expect(rows.find((r) => r.id === id)?.fields).toEqual({ new_tier: 3 });
    expect(rows.filter((r) => r.fields.new_tier === null)).toHaveLength(149);
    expect(pages.every((p) => !('checkpoint' in p))).toBe(true);
  });

  it('refuses fields the CRM does not have before sending the query (R8)', async () => {
    const sim = msw.simulate({ contacts: 5 });
    const { crm } = adapterFor(sim);
    const error = await failure(pull(crm, contact, ['firstname', 'local_only_score'], null));
    expect(error.code).toBe('FIELD_NOT_IN_CRM');
    expect(error.message).toContain('local_only_score');
    expect(sim.control.requestLog().some((e) => e.url.includes('local_only_score'))).toBe(false);
  });

  it('finds a table by its logical name alone (entity set and key column from metadata), and says when it does not exist', async () => {
    const sim = msw.simulate({ contacts: 5, memberships: 4 });
    const { crm } = adapterFor(sim);
    const membership = createEntityRegistry({ custom: [{ name: 'new_membership' }] }).get('new_membership');
    const schema = await crm.describeEntity(membership);
    expect(schema.fields.filter((f) => f.primaryKey).map((f) => f.name)).toEqual(['new_membershipid']);
    const rows = (await pull(crm, membership, ['new_name'], null)).upserts;
    expect(rows).toHaveLength(4);
    expect(rows.every((r) => Object.keys(r.fields).join() === 'new_name' && /^[0-9a-f-]{36}$/.test(r.id))).toBe(true);
    expect(sim.control.requestLog().some((e) => e.url.includes('/new_memberships?'))).toBe(true);
    const missing = await failure(crm.describeEntity({ ...account, name: 'nosuchtable' }));
    expect(missing.code).toBe('CRM_REQUEST_REJECTED');
    expect(missing.message).toContain('nosuchtable');
  });
});
