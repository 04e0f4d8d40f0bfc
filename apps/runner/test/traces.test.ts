import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { SimulatorServer } from '@crm-sync/dynamics-simulator';
import { cleanEnv, runCli, writeConfig } from './helpers/runner-process.js';
import { simulatorConfig, startTestSimulator } from './helpers/simulator.js';
import { tracesEndpoint, tracingWanted } from '../src/tracing.js';

/** What an OTLP/HTTP JSON export carries, as far as these tests read it. */
interface OtlpSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: { key: string; value: Record<string, unknown> }[];
}
interface OtlpExport {
  resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

/** A collector: keeps every POST to /v1/traces. */
let collector: Server;
let endpoint: string;
let exports: { path: string; contentType: string; body: OtlpExport }[] = [];
let sim: SimulatorServer;

beforeAll(async () => {
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      exports.push({ path: req.url ?? '', contentType: String(req.headers['content-type']), body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  sim = await startTestSimulator({ seed: 7, contacts: 120 });
});
afterAll(async () => {
  await sim.close();
  await new Promise((resolve) => collector.close(resolve));
});
beforeEach(() => {
  exports = [];
});

const spansOf = () => exports.flatMap((e) => e.body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
const attr = (span: OtlpSpan, key: string) => span.attributes.find((a) => a.key === key)?.value;

describe('crm-sync traces over OTLP', () => {
  it('with OTEL_EXPORTER_OTLP_ENDPOINT set, sync --once sends the cycle span tree to the collector before it exits', async () => {
    const config = writeConfig(simulatorConfig(sim));
    const result = await runCli(['sync', '--once', '--config', config], cleanEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SERVICE_NAME: 'crm-sync-test' }));
    expect(result.code, result.stderr).toBe(0);
    expect(exports.length).toBeGreaterThan(0);
    expect(exports.every((e) => e.path === '/v1/traces' && e.contentType.startsWith('application/json'))).toBe(true);
    const service = exports[0]!.body.resourceSpans[0]!.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
    expect(service).toBe('crm-sync-test');

    const spans = spansOf();
    const cycles = spans.filter((s) => s.name === 'crm-sync.cycle');
    expect(cycles.length).toBe(1);
    const cycle = cycles[0]!;
    const inCycle = spans.filter((s) => s.traceId === cycle.traceId);
    const entities = inCycle.filter((s) => s.name === 'crm-sync.entity' && s.parentSpanId === cycle.spanId);
    expect(entities.map((s) => attr(s, 'crm_sync.entity')?.stringValue).sort()).toEqual(
      expect.arrayContaining(['account', 'contact', 'lead', 'opportunity', 'systemuser', 'team']),
    );
    const contact = entities.find((s) => attr(s, 'crm_sync.entity')?.stringValue === 'contact')!;
    const underContact = inCycle.filter((s) => s.parentSpanId === contact.spanId);
    expect(underContact.filter((s) => s.name === 'crm-sync.page').length).toBeGreaterThanOrEqual(1);
    const reads = underContact.filter((s) => s.name === 'GET contacts');
    expect(reads.length).toBeGreaterThanOrEqual(1);
    expect(attr(reads[0]!, 'http.response.status_code')?.intValue).toBe(200);
    const pageIds = new Set(underContact.filter((s) => s.name === 'crm-sync.page').map((s) => s.spanId));
    expect(inCycle.filter((s) => s.name === 'crm-sync.store.commit' && pageIds.has(s.parentSpanId ?? '')).length).toBeGreaterThanOrEqual(1);
  });

  it('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT alone turns traces on; OTEL_SDK_DISABLED=true and no setting at all send nothing', async () => {
    const config = writeConfig(simulatorConfig(sim));
    const flagged = await runCli(['sync', '--once', '--entity', 'team', '--config', config], cleanEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${endpoint}/v1/traces` }));
    expect(flagged.code, flagged.stderr).toBe(0);
    expect(spansOf().filter((s) => s.name === 'crm-sync.cycle').length).toBe(1);

    exports = [];
    const disabled = await runCli(['sync', '--once', '--entity', 'team', '--config', config], cleanEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_SDK_DISABLED: 'true' }));
    expect(disabled.code, disabled.stderr).toBe(0);
    const off = await runCli(['sync', '--once', '--entity', 'team', '--config', config], cleanEnv());
    expect(off.code, off.stderr).toBe(0);
    expect(exports.length).toBe(0);
  });

  it('--otel alone exports to the standard default endpoint; the traces variable wins over the base one', () => {
    expect(tracingWanted(true, {})).toBe(true);
    expect(tracingWanted(undefined, {})).toBe(false);
    expect(tracingWanted(true, { OTEL_SDK_DISABLED: 'TRUE' })).toBe(false);
    expect(tracesEndpoint({})).toBe('http://localhost:4318/v1/traces');
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example:4318/' })).toBe('https://otel.example:4318/v1/traces');
    expect(tracesEndpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://a', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b/traces' })).toBe('https://b/traces');
  });
});
