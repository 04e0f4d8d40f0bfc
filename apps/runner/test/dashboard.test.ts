import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatorServer } from '@crm-sync/dynamics-simulator';
import { apiClient, eventually } from './helpers/http.js';
import { runnerDir, startRunner, writeConfig } from './helpers/runner-process.js';
import type { RunningProcess } from './helpers/runner-process.js';
import { expectedSynced, lowerMaxLength, simulatorConfig, startTestSimulator } from './helpers/simulator.js';

const CHROMIUM = '/usr/bin/chromium';
// The README's screenshot is refreshed with CRM_SYNC_UPDATE_SCREENSHOT=1; other runs keep it in a temp folder.
const SCREENSHOT = process.env.CRM_SYNC_UPDATE_SCREENSHOT
  ? join(runnerDir, 'docs', 'dashboard.png')
  : join(mkdtempSync(join(tmpdir(), 'crm-sync-dashboard-')), 'dashboard.png');

let sim: SimulatorServer;
let runner: RunningProcess & { url: string };
let api: ReturnType<typeof apiClient>;
let context: BrowserContext;
let page: Page;
let profile: string;

/** Debian's Chromium, headless; the closed network would otherwise stall it on Google lookups. */
async function launchChromium(): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`The dashboard test needs Debian's Chromium at ${CHROMIUM}: install it with apt-get install -y chromium`);
  }
  profile = mkdtempSync(join(tmpdir(), 'crm-sync-chromium-'));
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

const cell = (entity: string, field: string) => page.locator(`tr[data-entity="${entity}"] [data-field="${field}"]`);

beforeAll(async () => {
  context = await launchChromium();
  sim = await startTestSimulator({ seed: 13, contacts: 3_000, largeAccounts: [40] });
  runner = await startRunner(['--config', writeConfig(simulatorConfig(sim))]);
  api = apiClient(runner.url);
  await eventually(async () => (await api.get('/api/v1/status')).json?.lastCycle, 30_000, 'the first cycle');
  page = await context.newPage();
}, 90_000);

afterAll(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await runner?.stop();
  await sim?.close();
});

describe('dashboard in Chromium', () => {
  it('loads and shows every entity with its counts', async () => {
    await page.goto(`${runner.url}/`);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 20_000 });
    for (const entity of ['systemuser', 'team', 'account', 'contact', 'lead', 'opportunity']) {
      await expect.poll(() => page.locator(`tr[data-entity="${entity}"]`).count()).toBe(1);
    }
    expect(await cell('contact', 'records').textContent()).toBe(expectedSynced(sim, 'contact').toLocaleString('en-US'));
    expect(await cell('contact', 'status').textContent()).toMatch(/^ok/);
    expect(await page.locator('#history-chart g.cycle').count()).toBe(1);
  });

  it('shows per entity how many CRM rows the sync filter left out, and keeps the header values on one line at 1400 px', async () => {
    // One cycle so far, a full read: every row with new_synctomkto = false was left out (R11).
    const leftOut = (table: 'contact' | 'lead') => sim.simulator.dataset.counts[table] - expectedSynced(sim, table);
    expect(leftOut('contact')).toBeGreaterThan(0);
    await expect.poll(() => cell('contact', 'filtered').textContent()).toBe(leftOut('contact').toLocaleString('en-US'));
    expect(await cell('lead', 'filtered').textContent()).toBe(leftOut('lead').toLocaleString('en-US'));
    expect(await page.locator('#entities th[data-field="filtered"]').getAttribute('title')).toMatch(/sync filter/);

    // At 1400 px, and at every width around it (where each value falls depends on the lengths of the others).
    const widths = [1400, ...Array.from({ length: 81 }, (_, i) => 1000 + i * 10)];
    try {
      for (const width of widths) {
        await page.setViewportSize({ width, height: 900 });
        // Queried and measured in one page task: a locator's evaluateAll queries first and evaluates in
        // a second round trip, and a status refresh in between measures detached nodes (all zeros).
        const facts = await page.evaluate(() => {
          // Runs in the page (this package's types have no DOM library).
          type Box = { top: number; bottom: number };
          type Node = { textContent: string | null; nextElementSibling: Node; getBoundingClientRect(): Box };
          type Range = { selectNodeContents(node: unknown): void; getClientRects(): ArrayLike<{ top: number }> };
          const { document } = globalThis as unknown as { document: { createRange(): Range; querySelectorAll(s: string): ArrayLike<Node> } };
          return Array.from(document.querySelectorAll('#runner dt'), (dt) => {
            const dd = dt.nextElementSibling;
            const range = document.createRange();
            range.selectNodeContents(dd);
            const lines = new Set(Array.from(range.getClientRects(), (r) => Math.round(r.top))).size;
            const label = dt.getBoundingClientRect();
            const value = dd.getBoundingClientRect();
            return { label: dt.textContent, value: dd.textContent, lines, sameLine: value.top < label.bottom && label.top < value.bottom };
          });
        });
        // The daily request count (every CRM request of the first cycle) and the share of the DOP hint.
        expect(facts.find((f) => f.label === 'Requests 24 h')?.value).toMatch(/^[1-9][\d,]*$/);
        expect(facts.find((f) => f.label === 'Parallel')?.value).toMatch(/^\d+ of \d+$/);
        for (const label of ['Last cycle', 'Next cycle', 'Requests 24 h']) {
          // The value's text on one line, and on the line of its label.
          expect(facts.find((f) => f.label === label), `${label} at ${width} px`).toMatchObject({ lines: 1, sameLine: true });
        }
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 });
    }
  });

  it('shows a local edit made through the API once a cycle has pushed it', async () => {
    const leadId = (await api.get('/api/v1/entities/lead/records?limit=1')).json.items[0].id as string;
    expect((await api.patch(`/api/v1/entities/lead/records/${leadId}`, { fields: { subject: 'Edited for the dashboard test' } })).status).toBe(200);
    await expect.poll(() => cell('lead', 'pending').textContent(), { timeout: 15_000 }).toBe('1');
    expect((await api.post('/api/v1/cycles', { entities: ['lead'] })).json.entities[0].pushed).toBe(1);
    await expect.poll(() => cell('lead', 'pushed').textContent(), { timeout: 15_000 }).toBe('1');
    expect(await cell('lead', 'pending').textContent()).toBe('0');
    await expect.poll(() => page.locator('#activities').textContent(), { timeout: 15_000 }).toContain('"Edited for the dashboard test"');
    expect(sim.control.getRow('lead', leadId)?.subject).toBe('Edited for the dashboard test');
  });

  it('runs a cycle from its button and draws it in the history chart', async () => {
    const before = (await api.get('/api/v1/cycles')).json.items.length as number;
    await page.click('#run-cycle');
    await expect.poll(async () => (await api.get('/api/v1/cycles')).json.items.length, { timeout: 15_000 }).toBe(before + 1);
    await expect.poll(() => page.locator('#history-chart g.cycle').count(), { timeout: 15_000 }).toBe(before + 1);
  });

  it('shows the plan of a dry run from its button, beside "Run a cycle now", with nothing written', async () => {
    const leadId = (await api.get('/api/v1/entities/lead/records?limit=2')).json.items[1].id as string;
    expect((await api.patch(`/api/v1/entities/lead/records/${leadId}`, { fields: { subject: 'Planned in the dashboard' } })).status).toBe(200);
    const record = (await api.get(`/api/v1/entities/lead/records/${leadId}`)).json.record;
    const cycles = (await api.get('/api/v1/cycles')).json.items.length as number;
    const since = sim.control.requestLog().at(-1)?.seq ?? 0;
    expect(await page.locator('.actions button').allTextContents()).toEqual(['Run a cycle now', 'Dry run']);
    await page.click('#dry-run');
    await expect.poll(() => page.locator('#plan-panel').isVisible(), { timeout: 30_000 }).toBe(true);
    await expect.poll(() => page.locator('#plan-note').textContent(), { timeout: 30_000 }).toContain('nothing was written');
    const push = page.locator('#plan tr[data-entity="lead"] td').nth(4);
    expect(await push.textContent()).toBe('1');
    expect(await page.locator('#plan-details').textContent()).toContain(`update in the CRM lead …${leadId.slice(-8)}: subject`);
    expect(await page.locator('#plan tbody tr').count()).toBe((await api.get('/api/v1/status')).json.entities.length);
    // Nothing written: no CRM write, the record still pending, no cycle recorded.
    expect(sim.control.requestLog({ since }).filter((r) => r.method !== 'GET')).toEqual([]);
    expect((await api.get(`/api/v1/entities/lead/records/${leadId}`)).json.record).toEqual(record);
    expect((await api.get('/api/v1/cycles')).json.items.length).toBe(cycles);
    await page.click('#plan-close');
    expect(await page.locator('#plan-panel').isVisible()).toBe(false);
    // The cycle that follows pushes what the plan said.
    expect((await api.post('/api/v1/cycles', { entities: ['lead'] })).json.entities[0].pushed).toBe(1);
  });

  it('lists collisions and sync errors, and takes the README screenshot', async () => {
    const { dataset } = sim.simulator;
    const staff = sim.simulator.users.staff;
    // A working day in miniature: sales staff edit the CRM, marketing edits locally, one value the CRM refuses.
    const contacts = (await api.get('/api/v1/entities/contact/records?limit=5')).json.items as { id: string }[];
    sim.control.updateRow('contact', contacts[0]!.id, { jobtitle: 'Head of Purchasing' }, { asUser: staff[0]!.id });
    await api.patch(`/api/v1/entities/contact/records/${contacts[0]!.id}`, { fields: { jobtitle: 'Purchasing Lead' } });
    sim.control.updateRow('account', dataset.idOf('account', 5), { address1_city: 'Rotterdam' }, { asUser: staff[1]!.id });
    await api.post('/api/v1/cycles', {});
    sim.control.updateRow('contact', contacts[1]!.id, { telephone1: '+1 555 0100' }, { asUser: staff[2]!.id });
    const leads = (await api.get('/api/v1/entities/lead/records?limit=3')).json.items as { id: string }[];
    await api.patch(`/api/v1/entities/lead/records/${leads[2]!.id}`, { fields: { telephone1: '+31 20 555 0142' } });
    await api.post('/api/v1/persons', { fields: { firstname: 'Mina', lastname: 'Sato', emailaddress1: 'mina.sato@example.com' } });
    // Meanwhile the CRM's telephone1 was shortened to 10 characters: the push of that lead is refused.
    const restore = lowerMaxLength(sim, 'lead', 'telephone1', 10);
    await api.post('/api/v1/cycles', {});
    restore();

    await expect.poll(() => page.locator('#collisions').textContent(), { timeout: 15_000 }).toContain('contact.jobtitle');
    expect(await page.locator('#collisions').textContent()).toContain('crm wins');
    await expect.poll(() => page.locator('#errors').textContent(), { timeout: 15_000 }).toContain(leads[2]!.id.slice(-8));
    await expect.poll(() => cell('lead', 'errors').textContent(), { timeout: 15_000 }).toBe('1');
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
  });

  it('replays a refused push from the sync errors once its cause is fixed', async () => {
    // The lead refused above (telephone1 too long for the shortened column); the column is back to its length.
    const entry = ((await api.get('/api/v1/errors?limit=100')).json.items as { seq: number | null; entity: string; type: string; recordId: string }[])
      .find((e) => e.entity === 'lead' && e.type === 'push');
    expect(entry?.seq).toBeTypeOf('number');
    const button = page.locator(`#errors button.replay[data-seq="${entry!.seq}"]`);
    await expect.poll(() => button.count(), { timeout: 15_000 }).toBe(1);
    expect(await button.textContent()).toBe('Replay');
    await button.click();
    await expect.poll(() => page.locator('#replay-result').textContent(), { timeout: 30_000 }).toContain('Replayed 1: 1 applied, 0 still failing, 0 skipped.');
    expect(sim.control.getRow('lead', entry!.recordId)?.telephone1).toBe('+31 20 555 0142');
    await expect.poll(() => page.locator(`#errors button.replay[data-seq="${entry!.seq}"]`).count(), { timeout: 15_000 }).toBe(0);
    await expect.poll(() => cell('lead', 'errors').textContent(), { timeout: 15_000 }).toBe('0');
    const log = await api.get(`/api/v1/entities/lead/records/${entry!.recordId}/activities?latest=true&limit=1`);
    expect(log.json.items[0]).toMatchObject({ type: 'replay', detail: `replay of quarantine entry ${entry!.seq} (push): applied` });

    // "Replay all" retries every open entry and says what became of them.
    const open = (await api.get('/api/v1/quarantine?limit=1000')).json.items.length as number;
    await page.evaluate("document.getElementById('replay-result').textContent = ''");
    await page.click('#replay-all');
    await expect.poll(() => page.locator('#replay-result').textContent(), { timeout: 30_000 }).toMatch(new RegExp(`^Replayed ${open}: `));
  });
  it('opens a record from a collision and shows why a field holds its value: each step oldest first, with its rule and side', async () => {
    // The contact whose jobtitle collided above: created from the CRM, edited locally, then the CRM's value won (R2).
    const collision = ((await api.get('/api/v1/collisions?limit=100')).json.items as { entity: string; field: string; recordId: string }[])
      .find((c) => c.entity === 'contact' && c.field === 'jobtitle');
    const id = collision!.recordId;
    const link = page.locator(`#collisions button.record[data-id="${id}"]`).first();
    await expect.poll(() => link.count(), { timeout: 15_000 }).toBe(1);
    await link.click();
    await expect.poll(() => page.locator('#record-panel').isVisible(), { timeout: 15_000 }).toBe(true);
    expect(await page.locator('#record-title').textContent()).toBe(`contact ${id}`);
    const rows = page.locator('#field-history tbody tr');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(3);
    expect(await page.locator('#history-title').textContent()).toBe('History of jobtitle');
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-rule')))).toEqual(['create', 'local-edit', 'collision']);
    const cells = async (n: number) => (await rows.nth(n).locator('td').allTextContents()).slice(1);
    expect(await cells(1)).toEqual(['local edit', 'local', '"Purchasing Lead"', '']);
    expect(await cells(2)).toEqual(['collision', 'CRM', '"Head of Purchasing"', 'local "Purchasing Lead" vs CRM "Head of Purchasing": CRM won']);

    // Another field of the record view: an account field the contact shows, changed in the CRM on its account (a fan-out, R4).
    const accountId = (await api.get(`/api/v1/entities/contact/records/${id}`)).json.record.accountId as string;
    expect(accountId).toBeTypeOf('string');
    sim.control.updateRow('account', accountId, { address1_city: 'Utrecht' }, { asUser: sim.simulator.users.staff[0]!.id });
    expect((await api.post('/api/v1/cycles', { entities: ['account'] })).status).toBe(200);
    await link.click(); // open it again: the record view shows the values of now
    await page.locator('#record-fields button.history[data-field="company.address1_city"]').click();
    await expect.poll(() => page.locator('#history-title').textContent(), { timeout: 15_000 }).toBe('History of company.address1_city');
    await expect.poll(async () => (await page.locator('#field-history tbody tr').last().locator('td').allTextContents()).slice(1, 4), { timeout: 15_000 })
      .toEqual(['account fan-out', 'CRM', '"Utrecht"']);
    expect(await page.locator('#field-history tbody tr').first().getAttribute('data-rule')).toBe('create');
  });
});
