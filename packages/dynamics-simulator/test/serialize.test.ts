import { describe, expect, it } from 'vitest';
import { createSimulator } from '../src/index.js';
import { parsePrefer } from '../src/odata/prefer.js';
import { createRowSerializer, outputColumns, serializeRow } from '../src/odata/serialize.js';

describe('row serializer', () => {
  it('writes the same JSON text as JSON.stringify of serializeRow, for every table, user, selection and annotation choice', () => {
    const sim = createSimulator({ seed: 3, contacts: 400, clock: { manual: true } });
    const { org, control } = sim;
    // Values that need escaping, non-Latin-1 text, a lone surrogate, and null values.
    const contact = org.dataset.idOf('contact', 5);
    control.updateRow('contact', contact, { firstname: 'Quote " back\\slash \n tab\t \u0001', lastname: 'Jovanović 😀 \ud800', jobtitle: null });
    control.insertRow('account', { name: '</script> "ACME" \u2028', revenue: 1234.5, numberofemployees: 0, new_synctomkto: false });
    control.deleteRow('contact', org.dataset.idOf('contact', 6));
    const preferences = ['', 'odata.include-annotations="*"', 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"', 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'].map((header) =>
      parsePrefer(header || null),
    );
    let compared = 0;
    for (const table of org.tables()) {
      const primary = table.columns.get(table.primaryIdAttribute)!;
      const readable = [...table.columns.values()].filter((column) => column.isValidForRead);
      const selections = [null, readable.slice(0, 3), [primary, readable[1]!, readable[1]!], readable.filter((column) => column.type === 'Money' || column.isSecured)];
      for (const userId of [org.users.sync.id, org.users.admin.id, org.users.staff[0]!.id]) {
        for (const preference of preferences) {
          for (const select of selections) {
            const columns = outputColumns(table, select);
            const context = { org, userId, preferences: preference };
            const write = createRowSerializer(context, table, columns);
            // The first rows (the edited contact is row 5) and the last ones (the inserted account).
            const size = org.size(table.logicalName);
            for (let position = 0; position < size; position = position === 40 ? Math.max(41, size - 3) : position + 1) {
              const stored = org.rowAt(table.logicalName, position);
              if (!stored) continue;
              expect(write(stored)).toBe(JSON.stringify(serializeRow(context, table, stored, columns)));
              compared++;
            }
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(1000);
  });
});
