import type { PluginContext, SyncEngine } from '@crm-sync/core';
import type { SimulatorServer } from '@crm-sync/dynamics-simulator';
import { createRandom } from './random.js';
import type { Random } from './random.js';

const JOB_TITLES = ['Head of Purchasing', 'VP Marketing', 'Account Manager', 'CTO', 'Operations Lead', 'Procurement Officer', 'Director of Sales', 'Office Manager'];
const CITIES = ['Lyon', 'Seattle', 'Rotterdam', 'Osaka', 'Denver', 'Porto', 'Leeds', 'Graz'];
const FIRST = ['Ada', 'Bram', 'Chloe', 'Dev', 'Elif', 'Femi', 'Greta', 'Hugo', 'Ines', 'Jonas'];
const LAST = ['Okafor', 'Lindqvist', 'Moreau', 'Tanaka', 'Novak', 'Silva', 'Byrne', 'Keller', 'Haddad', 'Quinn'];
const COMPANIES = ['Northwind', 'Fabrikam', 'Contoso', 'Tailspin', 'Litware', 'Adatum', 'Proseware'];

export interface DemoEdits {
  stop(): Promise<void>;
}

export interface DemoEditsOptions {
  server: SimulatorServer;
  engine: SyncEngine;
  log: PluginContext['log'];
  everyMs: number;
  seed: number;
}

const phone = (r: Random) => `+1 555 ${String(100 + r.int(900))} ${String(1000 + r.int(9000))}`;

/**
 * The demo's sales staff: every few seconds a salesperson edits a CRM row through the simulator's
 * control API (as a person in the app would), now and then a new lead arrives, and marketing edits
 * a person locally, sometimes the same field a salesperson just changed (a collision, R2).
 */
export function startDemoEdits(options: DemoEditsOptions): DemoEdits {
  const { server, engine, log } = options;
  const { control, simulator } = server;
  const { dataset } = simulator;
  const staff = simulator.users.staff;
  const r = createRandom(options.seed * 7_919 + 17);
  const row = (table: 'contact' | 'lead' | 'account') => dataset.idOf(table, r.int(dataset.counts[table]));
  const salesperson = () => r.pick(staff);

  const crmEdit = (table: string, id: string, values: Record<string, unknown>) => {
    const user = salesperson();
    control.updateRow(table, id, values, { asUser: user.id });
    log('info', 'demo: CRM edit by sales staff', { user: user.fullName, entity: table, id, fields: Object.keys(values) });
  };
  const localEdit = async (entity: string, id: string, fields: Record<string, string>) => {
    try {
      await engine.editLocal(entity, id, { fields });
      log('info', 'demo: local edit by marketing', { entity, id, fields: Object.keys(fields) });
    } catch (error) {
      // Not synced yet, or filtered out of the sync (R11): another tick picks another one.
      log('debug', 'demo: local edit skipped', { entity, id, error });
    }
  };

  const actions: { weight: number; run: () => Promise<void> | void }[] = [
    { weight: 30, run: () => crmEdit('contact', row('contact'), { jobtitle: r.pick(JOB_TITLES) }) },
    { weight: 10, run: () => crmEdit('contact', row('contact'), { telephone1: phone(r) }) },
    { weight: 15, run: () => crmEdit('lead', row('lead'), { subject: `Interested in ${r.pick(['pricing', 'a demo', 'the API', 'support plans'])}` }) },
    { weight: 10, run: () => crmEdit('account', row('account'), { address1_city: r.pick(CITIES), telephone1: phone(r) }) },
    // The big account (more than 5,000 contacts): its change syncs without per-contact activities (R7).
    ...(dataset.largeAccounts[0] ? [{ weight: 3, run: () => crmEdit('account', dataset.largeAccounts[0]!.id, { websiteurl: `https://www.${r.pick(COMPANIES).toLowerCase()}.example` }) }] : []),
    {
      weight: 10,
      run: () => {
        const user = salesperson();
        const first = r.pick(FIRST);
        const last = r.pick(LAST);
        const company = r.pick(COMPANIES);
        const { id } = control.insertRow(
          'lead',
          { firstname: first, lastname: last, companyname: company, emailaddress1: `${first}.${last}@${company.toLowerCase()}.example`.toLowerCase(), subject: 'New inbound lead' },
          { asUser: user.id },
        );
        log('info', 'demo: new CRM lead', { user: user.fullName, id });
      },
    },
    { weight: 12, run: () => localEdit('lead', row('lead'), { telephone1: phone(r) }) },
    { weight: 5, run: () => localEdit('contact', row('contact'), { telephone1: phone(r) }) },
    {
      // The same contact field on both sides before the next cycle: CRM wins for contacts (R2).
      weight: 5,
      run: async () => {
        const id = row('contact');
        crmEdit('contact', id, { jobtitle: r.pick(JOB_TITLES) });
        await localEdit('contact', id, { jobtitle: `${r.pick(JOB_TITLES)} (marketing)` });
      },
    },
    {
      // ... and for leads the local side wins (R2).
      weight: 3,
      run: async () => {
        const id = row('lead');
        crmEdit('lead', id, { subject: 'Asked sales for a call back' });
        await localEdit('lead', id, { subject: 'Downloaded the pricing guide' });
      },
    },
  ];
  const total = actions.reduce((n, a) => n + a.weight, 0);
  const pick = () => {
    let n = r.int(total);
    for (const a of actions) {
      if ((n -= a.weight) < 0) return a;
    }
    return actions[0] as (typeof actions)[number];
  };

  let timer: NodeJS.Timeout | null = null;
  let inFlight: Promise<void> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    inFlight = (async () => {
      try {
        await pick().run();
      } catch (error) {
        log('debug', 'demo: edit failed', { error });
      }
    })();
    void inFlight.then(() => {
      if (!stopped) timer = setTimeout(tick, options.everyMs);
    });
  };
  timer = setTimeout(tick, options.everyMs);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inFlight;
    },
  };
}
