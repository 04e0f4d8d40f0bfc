import { indexHex, nameGuid, rowGuidPrefix, rowIndexFromGuid } from './guid.js';
import { createRandom, hash32 } from './random.js';
import type { Random } from './random.js';
import { INDUSTRIES, LEAD_SOURCES, MEMBERSHIP_LEVELS } from './schema.js';

/** A lookup value: the target table and row id. */
export interface LookupValue {
  readonly table: string;
  readonly id: string;
}

export type Value = string | number | boolean | null | LookupValue;

/** The org's only currency (transactioncurrency rows are not served). */
export const CURRENCY: LookupValue = { table: 'transactioncurrency', id: nameGuid('transactioncurrency', 'USD') };
export const CURRENCY_NAME = 'US Dollar';
/** A row keyed by column logical name (lookups hold a LookupValue, not `_x_value`). */
export type Row = Record<string, Value>;

export function isLookupValue(value: Value | undefined): value is LookupValue {
  return typeof value === 'object' && value !== null;
}

export interface DatasetOptions {
  /** Everything generated derives from it. Default 1. */
  seed?: number;
  /** Default 500. The other counts default to proportions of it. */
  contacts?: number;
  accounts?: number;
  leads?: number;
  /** systemusers, at least 3: the sync application user, an administrator, then sales staff. */
  users?: number;
  teams?: number;
  opportunities?: number;
  memberships?: number;
  /**
   * Contact counts of the first accounts, in order: `[5000, 5001]` gives account 0 exactly 5,000
   * contacts and account 1 exactly 5,001. Other contacts never point to these accounts.
   * Default: `[5000, 5001]` when there are at least 20,000 contacts, else none.
   */
  largeAccounts?: number[];
  /** Generated createdon/modifiedon lie before it. Default 2025-01-01T00:00:00Z. */
  epoch?: Date | string | number;
}

export interface LargeAccount {
  index: number;
  id: string;
  contacts: number;
  /** Index of its first contact; its contacts are a contiguous range. */
  firstContact: number;
}

export interface Dataset {
  readonly seed: number;
  readonly epoch: number;
  readonly counts: Readonly<Record<GeneratedTable, number>>;
  readonly largeAccounts: readonly LargeAccount[];
  /** Client id (application id) of the sync application user, systemuser 0. */
  readonly syncClientId: string;
  idOf(table: string, index: number): string;
  /** The row index a generated id maps back to, or undefined. */
  indexOf(table: string, id: string): number | undefined;
  /** Generated row `index` of a table: a pure function of (seed, table, index). */
  row(table: string, index: number): Row;
  /** The primary name of a generated row, cheaper than generating the row. */
  primaryName(table: string, index: number): string;
  /** The versionnumber of an untouched generated row (always below the org's first write). */
  baseVersion(table: string, index: number): number;
  /** Parent account index of a contact, or undefined when it has no account parent. */
  accountOfContact(index: number): number | undefined;
}

export const GENERATED_TABLES = ['account', 'contact', 'lead', 'systemuser', 'team', 'opportunity', 'new_membership'] as const;
export type GeneratedTable = (typeof GENERATED_TABLES)[number];

const TABLE_ORDINAL: Record<GeneratedTable, number> = {
  account: 1,
  contact: 2,
  lead: 3,
  systemuser: 4,
  team: 5,
  opportunity: 6,
  new_membership: 7,
};

/** Base versions live below this; the org's write counter starts above it. */
export const BASE_VERSION_CEILING = 1_000_000_000;
const VERSION_BLOCK = 100_000_000;

const FIRST_NAMES = [
  'Avery', 'Blake', 'Casey', 'Dana', 'Eli', 'Farah', 'Gus', 'Hana', 'Ines', 'Jonas', 'Kai', 'Lena', 'Milo', 'Nora', 'Omar', 'Pia',
  'Quinn', 'Rosa', 'Sami', 'Tariq', 'Uma', 'Viktor', 'Wren', 'Ximena', 'Yusuf', 'Zoe', 'Anders', 'Beatriz', 'Chen', 'Dmitri',
  'Esther', 'Fatima', 'Giulia', 'Hiro', 'Ivan', 'Jia', 'Kofi', 'Lucía', 'Mateo', 'Nia', 'Olga', 'Priya', 'Raúl', 'Sofia',
  'Tomás', 'Ulla', 'Vera', 'Wei', 'Yara', 'Zaid',
];
const LAST_NAMES = [
  'Abbott', 'Bauer', 'Castro', 'Dubois', 'Eriksen', 'Fischer', 'García', 'Hughes', 'Ibrahim', 'Jensen', 'Kowalski', 'Larsen',
  'Moreau', 'Nakamura', 'O\'Brien', 'Petrov', 'Quist', 'Rossi', 'Schmidt', 'Tanaka', 'Urban', 'Varga', 'Walsh', 'Xu', 'Yilmaz',
  'Zhang', 'Alvarez', 'Becker', 'Costa', 'Diaz', 'Evans', 'Fernandes', 'Gruber', 'Hansen', 'Iyer', 'Jovanović', 'Kim', 'López',
  'Müller', 'Nguyen', 'Okafor', 'Patel', 'Reyes', 'Silva', 'Thompson', 'Ueda', 'Vogel', 'Weber', 'Young', 'Zimmermann',
];
const COMPANY_WORDS = [
  'Northwind', 'Contoso', 'Fabrikam', 'Tailspin', 'Litware', 'Adatum', 'Proseware', 'Wingtip', 'Alpine', 'Coho', 'Blue Yonder',
  'Fourth Coffee', 'Margie\'s', 'Trey', 'Lucerne', 'Woodgrove', 'Humongous', 'Relecloud', 'Wide World', 'Graphic Design',
  'Southridge', 'VanArsdel', 'Bellows', 'Consolidated', 'Datum', 'Tailwind', 'Adventure', 'Lamna', 'Munson\'s', 'Nod',
];
const COMPANY_KINDS = ['Traders', 'Systems', 'Logistics', 'Foods', 'Health', 'Energy', 'Media', 'Robotics', 'Partners', 'Labs'];
const COMPANY_SUFFIXES = ['Inc.', 'Ltd.', 'GmbH', 'LLC', 'S.A.', 'Corp.', 'AG', 'BV'];
const CITIES = ['Seattle', 'Redmond', 'London', 'Berlin', 'Paris', 'Madrid', 'Toronto', 'Sydney', 'Tokyo', 'São Paulo', 'Oslo', 'Lagos'];
const JOB_TITLES = ['Purchasing Manager', 'CTO', 'Marketing Lead', 'Buyer', 'Office Manager', 'Engineer', 'CFO', 'Consultant', 'Analyst', 'Owner'];
const DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example', 'corp.example'];
const PRODUCTS = ['cloud backup', 'fleet tracking', 'office furniture', 'consulting hours', 'a pilot project', 'the premium plan'];
const TEAM_NAMES = ['Sales East', 'Sales West', 'Key Accounts', 'Inside Sales', 'Partner Channel', 'Service', 'Marketing'];

const DAY = 86_400_000;

/** `name.toLowerCase().normalize('NFD')` minus everything but a-z, 0-9 and dots: the pieces of generated e-mail addresses. */
const emailPart = (() => {
  const cache = new Map<string, string>();
  return (name: string): string => {
    let part = cache.get(name);
    if (part === undefined) {
      part = name.toLowerCase().normalize('NFD').replace(/[^a-z0-9.]/g, '');
      cache.set(name, part);
    }
    return part;
  };
})();

const dayPrefixes = new Map<number, string>();
const TWO_DIGITS = Array.from({ length: 60 }, (_, n) => String(n).padStart(2, '0'));

/** `new Date(ms).toISOString()` without milliseconds (`2024-03-05T14:07:09Z`), floored to the second; the date part is cached per day. */
function isoSeconds(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const day = Math.floor(seconds / 86_400);
  let prefix = dayPrefixes.get(day);
  if (prefix === undefined) {
    const date = new Date(day * DAY).toISOString();
    prefix = date.slice(0, date.indexOf('T') + 1);
    dayPrefixes.set(day, prefix);
  }
  const inDay = seconds - day * 86_400;
  const hours = Math.floor(inDay / 3600);
  const minutes = Math.floor((inDay - hours * 3600) / 60);
  return `${prefix}${TWO_DIGITS[hours]}:${TWO_DIGITS[minutes]}:${TWO_DIGITS[inDay - hours * 3600 - minutes * 60]}Z`;
}

function defaultCounts(options: DatasetOptions): Record<GeneratedTable, number> {
  const contacts = options.contacts ?? 500;
  const accounts = options.accounts ?? Math.max(2, Math.ceil(contacts / 10));
  return {
    account: accounts,
    contact: contacts,
    lead: options.leads ?? Math.ceil(contacts / 2),
    systemuser: Math.max(3, options.users ?? 12),
    team: Math.max(1, options.teams ?? 4),
    opportunity: options.opportunities ?? accounts,
    new_membership: options.memberships ?? Math.ceil(contacts / 5),
  };
}

const isGenerated = (table: string): table is GeneratedTable => Object.hasOwn(TABLE_ORDINAL, table);

export function createDataset(options: DatasetOptions = {}): Dataset {
  const seed = options.seed ?? 1;
  const epoch = new Date(options.epoch ?? '2025-01-01T00:00:00Z').getTime();
  if (Number.isNaN(epoch)) throw new Error(`Invalid dataset epoch: ${String(options.epoch)}`);
  const counts = defaultCounts(options);
  for (const [table, count] of Object.entries(counts)) {
    if (!Number.isInteger(count) || count < 0 || count >= VERSION_BLOCK) throw new RangeError(`Invalid row count for ${table}: ${count}`);
  }
  const largeSizes = options.largeAccounts ?? (counts.contact >= 20_000 ? [5000, 5001] : []);
  if (largeSizes.length > counts.account) throw new RangeError('More large accounts than accounts');
  const largeTotal = largeSizes.reduce((sum, size) => sum + size, 0);
  if (largeTotal > counts.contact) throw new RangeError(`Large accounts need ${largeTotal} contacts, only ${counts.contact} requested`);

  const prefixes = new Map<string, string>(GENERATED_TABLES.map((table) => [table, rowGuidPrefix(seed, TABLE_ORDINAL[table])]));
  const idOf = (table: string, index: number): string => {
    const prefix = prefixes.get(table);
    if (prefix === undefined) throw new Error(`Not a generated table: ${table}`);
    return prefix + indexHex(index);
  };
  const indexOf = (table: string, id: string): number | undefined => {
    if (!isGenerated(table)) return undefined;
    const index = rowIndexFromGuid(id, seed, TABLE_ORDINAL[table]);
    return index !== undefined && index < counts[table] ? index : undefined;
  };

  const largeAccounts: LargeAccount[] = [];
  let offset = 0;
  largeSizes.forEach((size, index) => {
    largeAccounts.push({ index, id: idOf('account', index), contacts: size, firstContact: offset });
    offset += size;
  });

  const syncClientId = nameGuid(seed, 'sync-client-id');
  const rng = (table: string, index: number): Random => createRandom(hash32(seed, table, index));
  const lookup = (table: string, index: number): LookupValue => ({ table, id: idOf(table, index) });
  // Users and teams are few and referenced by every row: their lookup values are shared (never mutated).
  const userLookups = Array.from({ length: counts.systemuser }, (_, i) => lookup('systemuser', i));
  const teamLookups = Array.from({ length: counts.team }, (_, i) => lookup('team', i));
  const staffCount = counts.systemuser - 2;

  const accountOfContact = (index: number): number | undefined => {
    if (index < largeTotal) {
      for (const large of largeAccounts) {
        if (index < large.firstContact + large.contacts) return large.index;
      }
    }
    const h = hash32(seed, 'contact-parent', index);
    // About 3% of contacts have no account parent (2% none, 1% another contact).
    if (h % 100 < 3) return undefined;
    const regular = counts.account - largeAccounts.length;
    if (regular <= 0) return undefined;
    return largeAccounts.length + (Math.floor(h / 100) % regular);
  };

  const personName = (random: Random): [string, string] => [random.pick(FIRST_NAMES), random.pick(LAST_NAMES)];
  const companyName = (random: Random): string =>
    `${random.pick(COMPANY_WORDS)} ${random.pick(COMPANY_KINDS)} ${random.pick(COMPANY_SUFFIXES)}`;
  const userName = (index: number, random: Random): [string, string] => {
    if (index === 0) return ['crm-sync', 'Integration'];
    if (index === 1) return ['Avery', 'Administrator'];
    return personName(random);
  };
  const teamName = (index: number): string =>
    index === 0 ? 'simulated-org' : `${TEAM_NAMES[(index - 1) % TEAM_NAMES.length]}${index > TEAM_NAMES.length ? ` ${Math.ceil(index / TEAM_NAMES.length)}` : ''}`;

  const primaryName = (table: string, index: number): string => {
    const random = rng(table, index);
    switch (table) {
      case 'account':
        return companyName(random);
      case 'contact':
      case 'lead':
        return personName(random).join(' ');
      case 'systemuser':
        return userName(index, random).join(' ');
      case 'team':
        return teamName(index);
      case 'opportunity':
        return `${random.pick(PRODUCTS)} for ${companyName(random)}`.replace(/^./, (c) => c.toUpperCase());
      case 'new_membership':
        return `MEM-${String(index + 1).padStart(7, '0')}`;
      default:
        throw new Error(`Not a generated table: ${table}`);
    }
  };

  const baseVersion = (table: string, index: number): number => {
    if (!isGenerated(table)) throw new Error(`Not a generated table: ${table}`);
    return TABLE_ORDINAL[table] * VERSION_BLOCK + index + 1;
  };

  const iso = isoSeconds;
  const someone = (random: Random): LookupValue => (staffCount > 0 && random.chance(0.9) ? userLookups[2 + random.int(staffCount)]! : userLookups[0]!);
  const owner = (random: Random): LookupValue =>
    random.chance(0.1) ? teamLookups[random.int(counts.team)]! : staffCount > 0 ? userLookups[2 + random.int(staffCount)]! : userLookups[1]!;
  const syncFlag = (random: Random): boolean | null => {
    const r = random.next();
    return r < 0.8 ? true : r < 0.9 ? false : null;
  };
  const phone = (random: Random): string => `+1 555 ${String(100 + random.int(900))} ${String(1000 + random.int(9000))}`;

  // Rows are built by adding properties to one object (no spreads of partial rows: this runs for every row served).
  /** Adds the columns every table has; `random` continues the row's own sequence. */
  const addSystemColumns = (row: Row, table: string, index: number, random: Random, owned: boolean): Row => {
    const createdon = epoch - (1 + random.int(3 * 365)) * DAY + random.int(DAY);
    const modifiedon = createdon + random.int(epoch - createdon);
    row.createdon = iso(createdon);
    row.modifiedon = iso(modifiedon);
    row.createdby = someone(random);
    row.modifiedby = someone(random);
    row.versionnumber = baseVersion(table, index);
    if (owned) row.ownerid = owner(random);
    return row;
  };
  const addState = (row: Row, random: Random, inactiveRate: number): Row => {
    const inactive = random.chance(inactiveRate);
    row.statecode = inactive ? 1 : 0;
    row.statuscode = inactive ? 2 : 1;
    return row;
  };

  const row = (table: string, index: number): Row => {
    if (!isGenerated(table) || !Number.isInteger(index) || index < 0 || index >= counts[table]) {
      throw new RangeError(`No generated row ${index} in ${table}`);
    }
    const random = rng(table, index);
    switch (table) {
      case 'account': {
        const name = companyName(random);
        const row: Row = {
          accountid: idOf('account', index),
          name,
          accountnumber: `ACC-${String(index + 1).padStart(7, '0')}`,
          telephone1: phone(random),
          websiteurl: `https://www.${name.split(' ')[0]!.toLowerCase().replace(/[^a-z]/g, '')}${index}.example`,
          address1_city: random.pick(CITIES),
          industrycode: random.pick(INDUSTRIES).value,
          revenue: Math.round(random.next() * 50_000_000),
          numberofemployees: 1 + random.int(5000),
          primarycontactid: null,
          description: null,
          new_synctomkto: syncFlag(random),
          transactioncurrencyid: CURRENCY,
        };
        addSystemColumns(row, table, index, random, true);
        return addState(row, random, 0.05);
      }
      case 'contact': {
        const [first, last] = personName(random);
        const parentAccount = accountOfContact(index);
        let parent: LookupValue | null = parentAccount === undefined ? null : lookup('account', parentAccount);
        // One in three parentless contacts points to another contact (Customer lookups allow it).
        if (parent === null && index > largeTotal && hash32(seed, 'contact-parent', index) % 3 === 0) {
          parent = lookup('contact', hash32(seed, 'contact-parent-contact', index) % index);
        }
        const email = `${emailPart(first)}.${emailPart(last)}.${index}`;
        const row: Row = {
          contactid: idOf('contact', index),
          firstname: first,
          lastname: last,
          fullname: `${first} ${last}`,
          emailaddress1: `${email}@${random.pick(DOMAINS)}`,
          telephone1: phone(random),
          jobtitle: random.pick(JOB_TITLES),
          birthdate: random.chance(0.3) ? iso(epoch - (20 * 365 + random.int(40 * 365)) * DAY).slice(0, 10) + 'T00:00:00Z' : null,
          parentcustomerid: parent,
          description: null,
          new_synctomkto: syncFlag(random),
          new_creditlimit: random.chance(0.5) ? 1000 * (1 + random.int(100)) : null,
          new_riskscore: random.int(101),
          transactioncurrencyid: CURRENCY,
        };
        addSystemColumns(row, table, index, random, true);
        return addState(row, random, 0.03);
      }
      case 'lead': {
        const [first, last] = personName(random);
        const company = companyName(random);
        const stateCode = random.chance(0.8) ? 0 : random.chance(0.5) ? 1 : 2;
        const email = `${emailPart(first)}.${emailPart(last)}.l${index}`;
        const row: Row = {
          leadid: idOf('lead', index),
          firstname: first,
          lastname: last,
          fullname: `${first} ${last}`,
          emailaddress1: `${email}@${random.pick(DOMAINS)}`,
          telephone1: phone(random),
          companyname: company,
          subject: `Interested in ${random.pick(PRODUCTS)}`,
          leadsourcecode: random.pick(LEAD_SOURCES).value,
          description: null,
          new_synctomkto: syncFlag(random),
        };
        addSystemColumns(row, table, index, random, true);
        row.statecode = stateCode;
        row.statuscode = stateCode === 0 ? 1 + random.int(2) : stateCode === 1 ? 3 : 4 + random.int(4);
        return row;
      }
      case 'systemuser': {
        const [first, last] = userName(index, random);
        const email = index === 0 ? 'crm-sync@simulated.example' : `${first}.${last}.${index}`.toLowerCase().normalize('NFD').replace(/[^a-z0-9.]/g, '') + '@simulated.example';
        return addSystemColumns(
          {
            systemuserid: idOf('systemuser', index),
            firstname: first,
            lastname: last,
            fullname: `${first} ${last}`,
            internalemailaddress: email,
            title: index === 0 ? 'Application user' : index === 1 ? 'System Administrator' : 'Sales Representative',
            isdisabled: index >= 2 && index % 13 === 12,
            applicationid: index === 0 ? syncClientId : null,
          },
          table,
          index,
          random,
          false,
        );
      }
      case 'team':
        return addSystemColumns(
          {
            teamid: idOf('team', index),
            name: teamName(index),
            teamtype: index === 0 ? 0 : random.chance(0.7) ? 0 : 1,
            isdefault: index === 0,
            description: null,
          },
          table,
          index,
          random,
          false,
        );
      case 'opportunity': {
        const name = primaryName('opportunity', index);
        // Advance past the draws primaryName made so the rest of the row differs from its name.
        random.next();
        random.next();
        random.next();
        random.next();
        const toContact = counts.contact > 0 && (counts.account === 0 || random.chance(0.1));
        const stateCode = random.chance(0.7) ? 0 : random.chance(0.5) ? 1 : 2;
        const row: Row = {
          opportunityid: idOf('opportunity', index),
          name,
          customerid: toContact ? lookup('contact', random.int(counts.contact)) : counts.account > 0 ? lookup('account', random.int(counts.account)) : null,
          estimatedvalue: Math.round(random.next() * 10_000_000) / 100,
          estimatedclosedate: iso(epoch + random.int(180) * DAY).slice(0, 10) + 'T00:00:00Z',
          closeprobability: random.int(101),
          description: null,
          new_synctomkto: syncFlag(random),
          transactioncurrencyid: CURRENCY,
        };
        addSystemColumns(row, table, index, random, true);
        row.statecode = stateCode;
        row.statuscode = stateCode === 0 ? 1 + random.int(2) : stateCode === 1 ? 3 : 4 + random.int(2);
        return row;
      }
      case 'new_membership': {
        const row: Row = {
          new_membershipid: idOf('new_membership', index),
          new_name: primaryName('new_membership', index),
          new_contactid: counts.contact > 0 ? lookup('contact', hash32(seed, 'membership-contact', index) % counts.contact) : null,
          new_level: random.pick(MEMBERSHIP_LEVELS).value,
          new_startdate: iso(epoch - random.int(1000) * DAY).slice(0, 10) + 'T00:00:00Z',
          new_points: random.int(100_000),
        };
        addSystemColumns(row, table, index, random, true);
        return addState(row, random, 0.1);
      }
    }
  };

  return {
    seed,
    epoch,
    counts,
    largeAccounts,
    syncClientId,
    idOf,
    indexOf,
    row,
    primaryName,
    baseVersion,
    accountOfContact,
  };
}
