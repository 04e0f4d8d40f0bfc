import { describe, expect, it } from 'vitest';
import { json, startOrg } from './helpers.js';
import type { TestOrg } from './helpers.js';

const CRLF = '\r\n';

function request(method: string, url: string, body?: unknown, contentId?: string, headers: string[] = []): string {
  const lines = ['Content-Type: application/http', 'Content-Transfer-Encoding: binary'];
  if (contentId) lines.push(`Content-ID: ${contentId}`);
  lines.push('', `${method} ${url} HTTP/1.1`);
  if (body !== undefined) lines.push('Content-Type: application/json; type=entry');
  lines.push(...headers, '', body === undefined ? '' : JSON.stringify(body));
  return lines.join(CRLF);
}

function batch(boundary: string, items: string[]): string {
  return `${items.map((item) => `--${boundary}${CRLF}${item}${CRLF}`).join('')}--${boundary}--${CRLF}`;
}

function changeset(boundary: string, parts: string[]): string {
  return [`Content-Type: multipart/mixed; boundary=${boundary}`, '', ...parts.map((part) => `--${boundary}${CRLF}${part}`), `--${boundary}--`].join(CRLF);
}

async function send(org: TestOrg, body: string, prefer?: string): Promise<Response> {
  return org.api('$batch', {
    method: 'POST',
    body,
    headers: { 'Content-Type': 'multipart/mixed; boundary=batch_AAA123', ...(prefer ? { Prefer: prefer } : {}) },
  });
}

describe('$batch', () => {
  it('runs a change set with Content-ID references and a GET, answering with batchresponse/changesetresponse parts', async () => {
    const org = await startOrg();
    const root = org.server.webApiUrl;
    const body = batch('batch_AAA123', [
      changeset('changeset_BBB456', [
        request('POST', `${root}accounts`, { name: 'Batch Account' }, '1'),
        request('POST', `${root}contacts`, { lastname: 'Batch', 'parentcustomerid_account@odata.bind': '$1' }, '2'),
      ]),
      request('GET', `${root}accounts?$select=name&$filter=name eq 'Batch Account'`),
    ]);
    const response = await send(org, body);
    expect(response.status).toBe(200);
    const contentType = response.headers.get('content-type')!;
    const boundary = /^multipart\/mixed; boundary=(batchresponse_[0-9a-f-]{36})$/.exec(contentType)?.[1];
    expect(boundary).toBeDefined();
    const text = await response.text();
    expect(text.endsWith(`--${boundary}--\r\n`)).toBe(true);
    expect(text).not.toMatch(/[^\r]\n/);
    const changesetBoundary = /boundary=(changesetresponse_[0-9a-f-]{36})/.exec(text)?.[1];
    expect(changesetBoundary).toBeDefined();
    expect(text.match(/HTTP\/1\.1 204 No Content/g)).toHaveLength(2);
    expect(text).toContain('Content-ID: 1');
    expect(text).toContain('Content-ID: 2');
    const accountUrl = /OData-EntityId: (\S+accounts\([0-9a-f-]{36}\))/.exec(text)![1]!;
    expect(text).toContain(`Location: ${accountUrl}`);
    expect(text).toContain('HTTP/1.1 200 OK');
    const found = JSON.parse(text.slice(text.indexOf('{"@odata.context"'), text.lastIndexOf('}') + 1)) as { value: Array<{ name: string }> };
    expect(found.value.map((row) => row.name)).toEqual(['Batch Account']);
    const accountId = /\(([^)]+)\)$/.exec(accountUrl)![1]!;
    const contacts = await json(await org.api(`contacts?$select=lastname&$filter=_parentcustomerid_value eq ${accountId}`));
    expect(contacts.value!.map((row) => row.lastname)).toEqual(['Batch']);
  });

  it('rolls back a change set when one operation fails; without continue-on-error the batch is 400 with only the failing part', async () => {
    const org = await startOrg();
    const root = org.server.webApiUrl;
    const body = batch('batch_AAA123', [
      request('GET', `${root}WhoAmI`),
      changeset('changeset_CCC', [request('POST', `${root}accounts`, { name: 'Rolled Back' }, '1'), request('POST', `${root}accounts`, { name: 'Bad', nosuchcolumn: 1 }, '2')]),
      request('GET', `${root}WhoAmI`),
    ]);
    const response = await send(org, body);
    expect(response.status).toBe(400);
    const text = await response.text();
    expect(text.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(text).toContain('HTTP/1.1 400 Bad Request');
    expect(text).toContain('0x80048d19');
    const check = await json(await org.api("accounts?$select=name&$filter=name eq 'Rolled Back'"));
    expect(check.value).toEqual([]);
  });

  it('with Prefer: odata.continue-on-error answers 200 and gives each operation its own status', async () => {
    const org = await startOrg();
    const root = org.server.webApiUrl;
    const body = batch('batch_AAA123', [request('GET', `${root}WhoAmI`), request('GET', `${root}nosuchset`), request('GET', `${root}accounts?$select=name&$top=1`)]);
    const response = await send(org, body, 'odata.continue-on-error');
    expect(response.status).toBe(200);
    const statuses = [...(await response.text()).matchAll(/HTTP\/1\.1 (\d{3})/g)].map((match) => Number(match[1]));
    expect(statuses).toEqual([200, 404, 200]);
  });

  it('with the ignoreContinueOnError quirk stops at the first failure despite the preference: 400 with only the failed part', async () => {
    const org = await startOrg();
    const root = org.server.webApiUrl;
    const { control, dataset } = org.server.simulator;
    const [first, second, third] = [0, 1, 2].map((i) => dataset.idOf('contact', i));
    const patch = (id: string, body: unknown) => request('PATCH', `${root}contacts(${id})`, body, undefined, ['If-Match: *']);
    const body = batch('batch_AAA123', [patch(first!, { jobtitle: 'Applied' }), patch(second!, { nosuchcolumn: 1 }), patch(third!, { jobtitle: 'Never tried' })]);
    expect((await json(await org.control('quirks', { method: 'PUT', body: JSON.stringify({ ignoreContinueOnError: true }) }))).ignoreContinueOnError).toBe(true);
    const response = await send(org, body, 'odata.continue-on-error');
    expect(response.status).toBe(400);
    const text = await response.text();
    expect([...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((match) => match[1])).toEqual(['400']);
    expect(text).toContain("The property 'nosuchcolumn' does not exist");
    expect(control.getRow('contact', first!)?.jobtitle).toBe('Applied');
    expect(control.getRow('contact', third!)?.jobtitle).not.toBe('Never tried');

    expect((await org.control('quirks', { method: 'DELETE' })).status).toBe(204);
    const honoured = await send(org, body, 'odata.continue-on-error');
    expect(honoured.status).toBe(200);
    expect([...(await honoured.text()).matchAll(/HTTP\/1\.1 (\d{3})/g)].map((match) => match[1])).toEqual(['204', '400', '204']);
  });

  it('fails a body with LF-only line ends with the documented 400', async () => {
    const org = await startOrg();
    const body = batch('batch_AAA123', [request('GET', `${org.server.webApiUrl}WhoAmI`)]).replace(/\r\n/g, '\n');
    const response = await send(org, body);
    expect(response.status).toBe(400);
    const error = ((await response.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('0x80048d19');
    expect(error.message).toMatch(/InnerException : System\.ArgumentException: Stream was not readable\.$/);
  });

  it('rejects GET inside a change set', async () => {
    const org = await startOrg();
    const body = batch('batch_AAA123', [changeset('changeset_D', [request('GET', `${org.server.webApiUrl}WhoAmI`, undefined, '1')])]);
    expect((await send(org, body)).status).toBe(400);
  });
});
