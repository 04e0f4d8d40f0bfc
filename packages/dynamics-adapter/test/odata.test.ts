import { describe, expect, it } from 'vitest';
import { isSyncError } from '@crm-sync/core';
import { boundaryOf, encodeBatch, parseBatchResponse } from '../src/odata/batch.js';
import { parseErrorBody } from '../src/odata/error-body.js';
import { peekNextLink } from '../src/pages.js';
import { etagValue, parsePage, parseRow } from '../src/odata/parse.js';
import type { RowSpec } from '../src/odata/parse.js';
import { collectionUrl, dateTimeLiteral, guid, MAX_URL_LENGTH, name, prefer, rowPath, stringLiteral } from '../src/odata/query.js';
import type { AttributeInfo } from '../src/odata/types.js';

const ROOT = 'https://org.crm.dynamics.com/api/data/v9.2/';
const ID = '6a1e0b2c-5d3f-4e7a-9b8c-0d1e2f3a4b5c';
const USER = '11111111-2222-4333-8444-555555555555';

function attribute(logicalName: string, type: string, targets: string[] = []): AttributeInfo {
  return {
    logicalName,
    schemaName: logicalName,
    type,
    lookup: ['Lookup', 'Customer', 'Owner'].includes(type),
    targets,
    custom: false,
    validForRead: true,
    validForUpdate: true,
    validForCreate: true,
    secured: false,
    metadataId: ID,
    canRead: true,
    canUpdate: true,
    canCreate: true,
  };
}

const spec: RowSpec = {
  primaryKey: 'contactid',
  syncUserId: USER,
  fields: [
    attribute('firstname', 'String'),
    attribute('numberofchildren', 'Integer'),
    attribute('revenue', 'Money'),
    attribute('donotemail', 'Boolean'),
    attribute('birthdate', 'DateTime'),
    attribute('parentcustomerid', 'Customer', ['account', 'contact']),
    attribute('ownerid', 'Owner', ['systemuser', 'team']),
  ],
};

function thrown(fn: () => unknown) {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('query building', () => {
  it('escapes OData string literals by doubling quotes', () => {
    expect(stringLiteral("O'Brien")).toBe("'O''Brien'");
    expect(stringLiteral("'; drop")).toBe("'''; drop'");
  });

  it('refuses names and ids that could change the URL', () => {
    expect(name('new_field')).toBe('new_field');
    for (const bad of ['a b', 'x)', "x'", 'a/b', 'a,b', '']) {
      const error = thrown(() => name(bad));
      expect(isSyncError(error, 'CRM_REQUEST_REJECTED')).toBe(true);
    }
    expect(guid(ID.toUpperCase())).toBe(ID);
    expect(isSyncError(thrown(() => guid('1 or 1 eq 1')), 'CRM_REQUEST_REJECTED')).toBe(true);
    expect(rowPath('contacts', ID)).toBe(`contacts(${ID})`);
  });

  it('builds collection URLs with literal option names and encoded values', () => {
    const url = collectionUrl(ROOT, 'contacts', {
      select: ['contactid', '_parentcustomerid_value'],
      filter: `modifiedon ge ${dateTimeLiteral('2025-01-02T03:04:05.000Z')} and lastname eq ${stringLiteral("O'Brien & Co")}`,
      orderby: ['modifiedon asc', 'contactid asc'],
    });
    expect(url).toBe(
      'contacts?$select=contactid,_parentcustomerid_value&$filter=modifiedon%20ge%202025-01-02T03%3A04%3A05Z%20and%20lastname%20eq%20\'O\'\'Brien%20%26%20Co\'&$orderby=modifiedon%20asc%2Ccontactid%20asc',
    );
    expect(new URL(url, ROOT).searchParams.get('$filter')).toBe("modifiedon ge 2025-01-02T03:04:05Z and lastname eq 'O''Brien & Co'");
  });

  it('refuses URLs over the 32 KB limit before sending', () => {
    const select = Array.from({ length: 3_000 }, (_, i) => `new_column_number_${i}`);
    const error = thrown(() => collectionUrl(ROOT, 'contacts', { select }));
    expect(isSyncError(error, 'CRM_REQUEST_REJECTED')).toBe(true);
    expect((error as Error).message).toContain(String(MAX_URL_LENGTH));
  });

  it('joins preferences into one Prefer header', () => {
    expect(prefer({ trackChanges: true, maxPageSize: 500, annotations: ['Microsoft.Dynamics.CRM.lookuplogicalname'] })).toBe(
      'odata.track-changes,odata.maxpagesize=500,odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"',
    );
    expect(prefer({ returnRepresentation: true, continueOnError: true })).toBe('return=representation,odata.continue-on-error');
  });
});

describe('row parsing', () => {
  const row = {
    '@odata.etag': 'W/"72201545"',
    contactid: ID.toUpperCase(),
    firstname: 'Ada',
    'firstname@OData.Community.Display.V1.FormattedValue': 'Ada',
    numberofchildren: 2,
    revenue: 20000.5,
    'revenue@OData.Community.Display.V1.FormattedValue': '$20,000.50',
    donotemail: false,
    birthdate: '1990-05-01',
    _parentcustomerid_value: 'AAAAAAAA-0000-4000-8000-000000000001',
    '_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'account',
    '_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty': 'parentcustomerid_account',
    _ownerid_value: null,
    _transactioncurrencyid_value: 'bbbbbbbb-0000-4000-8000-000000000001',
    modifiedon: '2025-03-01T10:00:00Z',
    _modifiedby_value: USER.toUpperCase(),
    '@Microsoft.Dynamics.CRM.unasked': 'ignored',
  };

  it('reads values, the ETag version, lookups with their target and the echo flag', () => {
    const parsed = parseRow(row, spec);
    expect(parsed.kind).toBe('record');
    if (parsed.kind !== 'record') return;
    expect(parsed.record).toEqual({
      id: ID,
      version: '72201545',
      fields: {
        firstname: 'Ada',
        numberofchildren: 2,
        revenue: 20000.5,
        donotemail: false,
        birthdate: '1990-05-01',
        parentcustomerid: 'aaaaaaaa-0000-4000-8000-000000000001',
        ownerid: null,
      },
      lookups: { parentcustomerid: { id: 'aaaaaaaa-0000-4000-8000-000000000001', entity: 'account' }, ownerid: null },
      bySyncUser: true,
      modifiedOn: '2025-03-01T10:00:00Z',
    });
    expect(parsed.absent).toEqual([]);
  });

  it('never reads an absent column as null: it is left out of the fields and named', () => {
    const { firstname: _f, ...rest } = row;
    const parsed = parseRow({ ...rest, _modifiedby_value: 'cccccccc-0000-4000-8000-000000000001' }, spec);
    expect(parsed.kind === 'record' && 'firstname' in parsed.record.fields).toBe(false);
    expect(parsed.kind === 'record' && parsed.absent).toEqual(['firstname']);
    expect(parsed.kind === 'record' && parsed.record.bySyncUser).toBe(false);
  });

  it('rejects a row whose value does not fit the column type, naming the field', () => {
    const parsed = parseRow({ ...row, numberofchildren: '2' }, spec);
    expect(parsed.kind).toBe('rejected');
    if (parsed.kind !== 'rejected') return;
    expect(parsed.row.id).toBe(ID);
    expect(parsed.row.reason).toContain('numberofchildren');
    expect(parsed.row.reason).toContain('integer');
  });

  it('rejects rows without a usable key or version, and objects in values', () => {
    expect(parseRow({ ...row, contactid: 42 }, spec)).toMatchObject({ kind: 'rejected', row: { id: null } });
    const { '@odata.etag': _e, ...noEtag } = row;
    expect(parseRow(noEtag, spec)).toMatchObject({ kind: 'rejected', row: { reason: expect.stringContaining('etag') } });
    expect(parseRow({ ...noEtag, versionnumber: 99 }, spec)).toMatchObject({ kind: 'record', record: { version: '99' } });
    expect(parseRow({ ...row, firstname: { nested: true } }, spec).kind).toBe('rejected');
    expect(parseRow('text', spec).kind).toBe('rejected');
  });

  it('rejects a polymorphic lookup without its target annotation', () => {
    const { '_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': _a, ...bare } = row;
    const parsed = parseRow(bare, spec);
    expect(parsed.kind === 'rejected' && parsed.row.reason).toContain('parentcustomerid');
  });

  it('reads $deletedEntity rows by id, and OData 4.01 @removed rows', () => {
    expect(parseRow({ '@odata.context': `${ROOT}$metadata#contacts/$deletedEntity`, id: ID.toUpperCase(), reason: 'deleted' }, spec)).toEqual({ kind: 'deleted', id: ID });
    expect(parseRow({ '@removed': { reason: 'deleted' }, '@id': `${ROOT}contacts(${ID})` }, spec)).toEqual({ kind: 'deleted', id: ID });
    expect(parseRow({ '@odata.context': `${ROOT}$metadata#contacts/$deletedEntity`, id: 'x', reason: 'deleted' }, spec).kind).toBe('rejected');
  });

  it('strips weak ETags', () => {
    expect(etagValue('W/"123"')).toBe('123');
    expect(etagValue('"9"')).toBe('9');
  });

  it('parses pages and refuses bodies it cannot read', () => {
    expect(parsePage(JSON.stringify({ value: [1], '@odata.nextLink': 'x' }), 'GET').nextLink).toBe('x');
    expect(isSyncError(thrown(() => parsePage('{"value":[{"a":1}', 'GET')), 'CRM_RESPONSE_INVALID')).toBe(true);
    expect(isSyncError(thrown(() => parsePage('{"items":[]}', 'GET')), 'CRM_RESPONSE_INVALID')).toBe(true);
    expect(isSyncError(thrown(() => parsePage('{"value":[],"@odata.nextLink":5}', 'GET')), 'CRM_RESPONSE_INVALID')).toBe(true);
  });
});

describe('error bodies', () => {
  it('tolerates empty codes, innererror, annotations and non-JSON', () => {
    expect(parseErrorBody('{"error":{"code":"","message":"m"}}')).toEqual({ code: '', message: 'm' });
    expect(parseErrorBody('{"error":{"code":"0x1","message":"","innererror":{"message":"inner"}}}')).toEqual({ code: '0x1', message: 'inner' });
    expect(parseErrorBody('{"error":{"code":"0x1","@Microsoft.PowerApps.CDS.InnerError.Message":"annotated"}}')).toEqual({ code: '0x1', message: 'annotated' });
    expect(parseErrorBody('<html>proxy</html>')).toBeNull();
    expect(parseErrorBody('')).toBeNull();
    expect(parseErrorBody('{"message":"no envelope"}')).toBeNull();
  });
});

describe('$batch', () => {
  it('encodes parts with CRLF line endings and one part per operation', () => {
    const batch = encodeBatch(
      [
        { method: 'PATCH', url: `${ROOT}contacts(${ID})`, headers: { 'If-Match': 'W/"1"' }, body: '{"firstname":"A"}' },
        { method: 'PATCH', url: `${ROOT}leads(${ID})`, headers: { 'If-None-Match': '*' }, body: '{}', contentId: '2' },
      ],
      'batch_test',
    );
    expect(batch.contentType).toBe('multipart/mixed; boundary=batch_test');
    expect(batch.body.replace(/\r\n/g, '')).not.toContain('\n');
    expect(batch.body.split('\r\n')).toEqual([
      '--batch_test',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      '',
      `PATCH ${ROOT}contacts(${ID}) HTTP/1.1`,
      'Content-Type: application/json; type=entry',
      'If-Match: W/"1"',
      '',
      '{"firstname":"A"}',
      '--batch_test',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      'Content-ID: 2',
      '',
      `PATCH ${ROOT}leads(${ID}) HTTP/1.1`,
      'Content-Type: application/json; type=entry',
      'If-None-Match: *',
      '',
      '{}',
      '--batch_test--',
      '',
    ]);
  });

  it('parses responses in order, flattening change sets and tolerating LF', () => {
    const body = [
      '--batchresponse_1',
      'Content-Type: multipart/mixed; boundary=changesetresponse_2',
      '',
      '--changesetresponse_2',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      'Content-ID: 1',
      '',
      'HTTP/1.1 204 No Content',
      'OData-EntityId: x',
      'ETag: W/"5"',
      '',
      '',
      '--changesetresponse_2--',
      '--batchresponse_1',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      '',
      'HTTP/1.1 412 Precondition Failed',
      'Content-Type: application/json; odata.metadata=minimal',
      '',
      '{"error":{"code":"","message":"The version of the existing record doesn\'t match the RowVersion property provided."}}',
      '--batchresponse_1',
      'Content-Type: application/http',
      '',
      'HTTP/1.1 200 OK',
      '',
      '{"@odata.etag":"W/\\"7\\""}',
      '--batchresponse_1--',
      '',
    ];
    for (const eol of ['\r\n', '\n']) {
      const parts = parseBatchResponse(body.join(eol), 'multipart/mixed; boundary=batchresponse_1');
      expect(parts.map((p) => p.status)).toEqual([204, 412, 200]);
      expect(parts.map((p) => p.contentId)).toEqual(['1', null, null]);
      expect(parts[0]?.headers.etag).toBe('W/"5"');
      expect(parseErrorBody(parts[1]?.body ?? '')?.message).toContain('RowVersion');
      expect(JSON.parse(parts[2]?.body ?? '')['@odata.etag']).toBe('W/"7"');
    }
  });

  it('reads quoted boundaries and refuses non-multipart answers', () => {
    expect(boundaryOf('multipart/mixed; boundary="batchresponse_x"')).toBe('batchresponse_x');
    expect(boundaryOf('application/json')).toBeNull();
    expect(isSyncError(thrown(() => parseBatchResponse('{}', 'application/json')), 'CRM_RESPONSE_INVALID')).toBe(true);
    expect(isSyncError(thrown(() => parseBatchResponse('--b\r\n\r\nnot http\r\n--b--', 'multipart/mixed; boundary=b')), 'CRM_RESPONSE_INVALID')).toBe(true);
  });
});

describe('reading the nextLink before the body is parsed', () => {
  const body = (tail: string) => `{"value":[${'{"contactid":"x","firstname":"Zoë"},'.repeat(2_000)}{"contactid":"y"}]${tail}}`;

  it('finds the link at the end of a large body, decoding its JSON escapes', () => {
    const link = 'https://org.crm.dynamics.com/api/data/v9.2/contacts?$skiptoken=%3Ccookie%20page=%222%22%20/%3E';
    expect(peekNextLink(body(`,"@odata.nextLink":${JSON.stringify(link)}`))).toBe(link);
    expect(peekNextLink(body(`, "@odata.nextLink" : "https:\\/\\/org\\/a?b=\\"c\\""`))).toBe('https://org/a?b="c"');
  });

  it('finds nothing in a last page, a cut-off body or a link that is not a string', () => {
    expect(peekNextLink(body(',"@odata.deltaLink":"https://org/api/data/v9.2/contacts?$deltatoken=1"'))).toBeNull();
    expect(peekNextLink(body(',"@odata.nextLink":"https://org/api/data/v9.2/contacts?$skipt'))).toBeNull();
    expect(peekNextLink(body(',"@odata.nextLink":null'))).toBeNull();
    expect(peekNextLink('')).toBeNull();
  });
});
