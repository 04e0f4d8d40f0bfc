import { describe, expect, it } from 'vitest';
import type { CrmField } from '../contracts/crm.js';
import { isSyncError } from '../errors.js';
import type { FieldValue } from '../values.js';
import { assertValuesAccepted, valueProblem } from './values.js';

const field = (name: string, type: string, extra: Partial<CrmField> = {}): CrmField => ({
  name, type, custom: false, canRead: true, canUpdate: true, secured: false, ...extra,
});

const email = field('emailaddress1', 'String', { maxLength: 100 });
const lastname = field('lastname', 'String', { maxLength: 50, required: true });
const source = field('leadsourcecode', 'Picklist', { options: [1, 2, 8] });

describe('valueProblem: what the CRM would refuse, per its metadata', () => {
  it('refuses text longer than the maximum length, naming the length and the limit', () => {
    expect(valueProblem(email, `${'x'.repeat(300)}@example.test`)).toBe('313 characters, the CRM accepts at most 100');
    expect(valueProblem(email, 'x'.repeat(100))).toBeNull();
  });

  it('refuses clearing a required field (null or empty text), and accepts clearing any other', () => {
    expect(valueProblem(lastname, null)).toMatch(/required/);
    expect(valueProblem(lastname, '')).toMatch(/required/);
    expect(valueProblem(email, null)).toBeNull();
  });

  it('refuses a value that is not one of the option set values', () => {
    expect(valueProblem(source, 99)).toBe("99 is not one of the CRM's option values (1, 2, 8)");
    expect(valueProblem(source, 8)).toBeNull();
    expect(valueProblem(source, 'Web')).toMatch(/must be an option value/);
  });

  it.each<[string, FieldValue, boolean]>([
    ['String', 7, false],
    ['Integer', 7, true],
    ['Integer', 7.5, false],
    ['Integer', '7', false],
    ['Integer', '', false],
    ['String', '', true],
    ['Money', 12.5, true],
    ['Money', 'twelve', false],
    ['Boolean', true, true],
    ['Boolean', 'true', false],
    ['DateTime', '2026-02-01', true],
    ['DateTime', '2026-02-01T10:30:00Z', true],
    ['DateTime', 'yesterday', false],
    ['DateTime', '2026-13-01', false],
    ['Customer', '6f1c2a8e-0f0e-4c1a-9d3e-3a1b2c3d4e5f', true],
    ['Customer', 'Acme', false],
    ['MultiSelectPicklist', 'anything', true],
  ])('a %s column and the value %j: accepted %s', (type, value, accepted) => {
    const problem = valueProblem(field('f', type), value);
    if (accepted) expect(problem).toBeNull();
    else expect(problem).toContain(`a ${type} column`);
  });

  it('checks nothing the adapter did not report', () => {
    expect(valueProblem(field('subject', 'String'), 'x'.repeat(10_000))).toBeNull();
    expect(valueProblem(field('industrycode', 'Picklist'), 12345)).toBeNull();
  });
});

describe('assertValuesAccepted', () => {
  it('throws FIELD_VALUE_INVALID naming every refused field and its limit', () => {
    let error: unknown;
    try {
      assertValuesAccepted('lead', { emailaddress1: 'x'.repeat(314), lastname: null, firstname: 'Ok', x_local: 'y'.repeat(500) }, [email, lastname, field('firstname', 'String', { maxLength: 50 })]);
    } catch (e) {
      error = e;
    }
    expect(isSyncError(error, 'FIELD_VALUE_INVALID')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('lead.emailaddress1: 314 characters, the CRM accepts at most 100');
    expect(message).toContain('lead.lastname: required by the CRM');
    expect(message).not.toContain('firstname');
    // A local-only field (not in the CRM's schema, R8) is never pushed, so never checked.
    expect(message).not.toContain('x_local');
    expect((error as { details: { issues: string[] } }).details.issues).toHaveLength(2);
  });

  it('accepts values within every limit', () => {
    expect(() => assertValuesAccepted('lead', { emailaddress1: 'ada@example.test', leadsourcecode: 2 }, [email, source])).not.toThrow();
  });
});
