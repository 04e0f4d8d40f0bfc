import { expect } from 'vitest';
import { expectSyncError, lead, readAllRows, rejection, seed } from './context.js';
import type { KitContext, KitTest } from './context.js';

const aborted = (): AbortSignal => {
  const controller = new AbortController();
  controller.abort();
  return controller.signal;
};

export const abortTests = (ctx: KitContext) => ({
  'pullChanges() with an aborted signal fails with ABORTED and hands out nothing': () =>
    ctx.withCrm(async (crm) => {
      await seed(crm, 2);
      let pages = 0;
      const error = await rejection(async () => {
        for await (const _ of crm.adapter.pullChanges(lead, { checkpoint: null, fields: crm.fields, signal: aborted() })) pages += 1;
      });
      expectSyncError(error, 'ABORTED');
      expect(pages).toBe(0);
    }),

  'pullChanges() aborted after a page fails with ABORTED instead of handing out the next one': () =>
    ctx.withCrm(async (crm) => {
      await seed(crm, 7);
      const controller = new AbortController();
      let pages = 0;
      const error = await rejection(async () => {
        for await (const _ of crm.adapter.pullChanges(lead, { checkpoint: null, fields: crm.fields, signal: controller.signal })) {
          pages += 1;
          controller.abort();
        }
      });
      expectSyncError(error, 'ABORTED');
      expect(pages).toBe(1);
    }),

  'describeEntity({ fresh: true }) and readAll() with an aborted signal fail with ABORTED': () =>
    ctx.withCrm(async (crm) => {
      await seed(crm, 2);
      expectSyncError(await rejection(() => crm.adapter.describeEntity(lead, { fresh: true, signal: aborted() })), 'ABORTED');
      const read = rejection(async () => {
        for await (const _ of crm.adapter.readAll(lead, { fields: crm.fields, signal: aborted() })) throw new Error('readAll handed out a page after its signal was aborted');
      });
      expectSyncError(await read, 'ABORTED');
      // The adapter is still usable afterwards.
      expect((await readAllRows(crm.adapter, lead, crm.fields)).rows.size).toBe(2);
    }),
} satisfies Record<string, KitTest>);
