import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { fakeCrmWithMemoryStore } from '../src/harness.js';
import { simulatorCrm } from '../src/simulator-harness.js';
import type { World } from '../src/world.js';
import { createWorld, newId } from '../src/world.js';

/**
 * The span tree of one cycle, collected in memory from a real cycle: the engine and the Dynamics
 * adapter against the simulator over HTTP, with an SDK registered the way an operator would.
 */
describe('traces: the span tree of one cycle', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let world: World;
  const accountId = newId();
  const contactIds = [newId(), newId(), newId()];

  beforeAll(async () => {
    provider.register();
    world = await createWorld({ name: 'simulator', crm: () => simulatorCrm(), store: fakeCrmWithMemoryStore.store });
    await world.crm.put('account', accountId, { name: 'Secret Account Name' });
    for (const [i, id] of contactIds.entries()) {
      await world.crm.put('contact', id, { firstname: `Secret${i}`, emailaddress1: `secret${i}@example.com` }, { parentcustomerid: { id: accountId, entity: 'account' } });
    }
    await world.cycle();
  });

  afterAll(async () => {
    await world?.close();
    await provider.shutdown();
    trace.disable();
    context.disable();
  });

  const idOf = (s: ReadableSpan) => s.spanContext().spanId;
  const childrenOf = (spans: ReadableSpan[], parent: ReadableSpan) => spans.filter((s) => s.parentSpanContext?.spanId === idOf(parent));
  const entityOf = (s: ReadableSpan) => s.attributes['crm_sync.entity'];

  it('is one cycle span over an entity span per entity, over its pages, pushes, CRM requests and store commits', async () => {
    const [edited, changed] = contactIds as [string, string, string];
    await world.engine.editLocal('contact', edited, { fields: { firstname: 'LocalSecretValue' } });
    await world.crm.put('contact', changed, { firstname: 'CrmSecretValue' });
    exporter.reset();

    const summary = await world.cycle();
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();

    // One root: the cycle; every other span of the cycle hangs below it.
    const roots = spans.filter((s) => s.parentSpanContext === undefined);
    expect(roots.map((s) => s.name)).toEqual(['crm-sync.cycle']);
    const cycle = roots[0]!;
    expect(cycle.attributes['crm_sync.ok']).toBe(true);
    const traceIds = new Set(spans.map((s) => s.spanContext().traceId));
    expect(traceIds.size).toBe(1);

    // Below the cycle: one span per entity the cycle ran (plus the cycle's own metadata requests).
    const entities = childrenOf(spans, cycle).filter((s) => s.name === 'crm-sync.entity');
    expect(entities.map(entityOf).sort()).toEqual(summary.entities.map((e) => e.entity).sort());
    expect(entities.length).toBeGreaterThanOrEqual(5);
    const contact = entities.find((s) => entityOf(s) === 'contact')!;
    expect(contact.attributes).toMatchObject({ 'crm_sync.status': 'ok', 'crm_sync.pulled': 1, 'crm_sync.pushed': 1 });

    // The contact's run: the CRM read, the page it gave, the push and its write.
    const underContact = childrenOf(spans, contact);
    const reads = underContact.filter((s) => s.kind === SpanKind.CLIENT && s.name === 'GET contacts');
    expect(reads.length).toBeGreaterThanOrEqual(1);
    expect(reads[0]!.attributes).toMatchObject({ 'http.request.method': 'GET', 'crm_sync.entity_set': 'contacts', 'http.response.status_code': 200 });
    const pages = underContact.filter((s) => s.name === 'crm-sync.page');
    expect(pages.length).toBe(1);
    expect(pages[0]!.attributes).toMatchObject({ 'crm_sync.entity': 'contact', 'crm_sync.upserts': 1, 'crm_sync.deletes': 0 });
    const pageCommits = childrenOf(spans, pages[0]!).filter((s) => s.name === 'crm-sync.store.commit');
    expect(pageCommits.length).toBe(1);
    expect(pageCommits[0]!.attributes).toMatchObject({ 'crm_sync.entity': 'contact', 'crm_sync.records': 1, 'crm_sync.store': 'memory' });
    const pushes = underContact.filter((s) => s.name === 'crm-sync.push');
    expect(pushes.length).toBe(1);
    expect(pushes[0]!.attributes).toMatchObject({ 'crm_sync.pushed': 1, 'crm_sync.collisions': 0 });
    const writes = childrenOf(spans, pushes[0]!).filter((s) => s.kind === SpanKind.CLIENT);
    expect(writes.length).toBeGreaterThanOrEqual(1);
    expect(writes.every((s) => ['PATCH', 'POST'].includes(String(s.attributes['http.request.method'])))).toBe(true);
    // The push's result is committed inside the push.
    expect(writes.length + childrenOf(spans, pushes[0]!).filter((s) => s.name === 'crm-sync.store.commit').length).toBeGreaterThan(writes.length);

    // No orphan: every span but the cycle has its parent in the same trace.
    const byId = new Map(spans.map((s) => [idOf(s), s]));
    for (const s of spans) {
      const parent = s.parentSpanContext ? byId.get(s.parentSpanContext.spanId) : undefined;
      if (s !== cycle) expect(parent, `${s.name} has a parent in the trace`).toBeDefined();
    }

    // Never a value, a record id, a query string or a token in any attribute or span name.
    const said = JSON.stringify(spans.map((s) => [s.name, s.attributes, s.events.map((e) => e.attributes)]));
    for (const secret of ['LocalSecretValue', 'CrmSecretValue', 'Secret Account Name', 'secret0@example.com', accountId, ...contactIds, '?', '$select', '$filter', 'Bearer']) {
      expect(said, secret).not.toContain(secret);
    }
  });
});
