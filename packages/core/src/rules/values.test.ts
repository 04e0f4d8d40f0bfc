import { describe, expect, it } from 'vitest';
import type { CrmField, FieldValueKind } from '../contracts/crm.js';
import { isSyncError } from '../errors.js';
import type { FieldValue } from '../values.js';
import { assertValuesAccepted, valueProblem } from './values.js';

// The column's CRM type name is its kind here: rules read only the kind.
const field = (name: string, valueKind: FieldValueKind, extra: Partial<CrmField> = {}): CrmField => ({
  name, type: valueKind, valueKind, custom: false, canRead: true, canUpdate: true, secured: false, ...extra,
});

const email = field('emailaddress1', 'text', { maxLength: 100 });
const lastname = field('lastname', 'text', { maxLength: 50, required: true });
const source = field('leadsourcecode', 'choice', { options: [1, 2, 8] });

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

  it.each<[FieldValueKind, FieldValue, boolean]>([
    ['text', 7, false],
    ['integer', 7, true],
    ['integer', 7.5, false],
    ['integer', '7', false],
    ['integer', '', false],
    ['text', '', true],
    ['number', 12.5, true],
    ['number', 'twelve', false],
    ['boolean', true, true],
    ['boolean', 'true', false],
    ['datetime', '2026-02-01', true],
    ['datetime', '2026-02-01T10:30:00Z', true],
    ['datetime', 'yesterday', false],
    ['datetime', '2026-13-01', false],
    ['lookup', '6f1c2a8e-0f0e-4c1a-9d3e-3a1b2c3d4e5f', true],
    ['lookup', 'Acme', false],
    ['other', 'anything', true],
  ])('a %s column and the value %j: accepted %s', (type, value, accepted) => {
    const problem = valueProblem(field('f', type), value);
    if (accepted) expect(problem).toBeNull();
    else expect(problem).toContain(`a ${type} column`);
  });

  it('checks nothing the adapter did not report', () => {
    expect(valueProblem(field('subject', 'text'), 'x'.repeat(10_000))).toBeNull();
    expect(valueProblem(field('industrycode', 'choice'), 12345)).toBeNull();
  });
});

describe('assertValuesAccepted', () => {
  it('throws FIELD_VALUE_INVALID naming every refused field and its limit', () => {
    let error: unknown;
    try {
      assertValuesAccepted('lead', { emailaddress1: 'x'.repeat(314), lastname: null, firstname: 'Ok', x_local: 'y'.repeat(500) }, [email, lastname, field('firstname', 'text', { maxLength: 50 })]);
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
