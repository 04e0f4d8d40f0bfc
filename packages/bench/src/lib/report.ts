import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, type as osType, release } from 'node:os';
import { dirname } from 'node:path';
import type { Figure } from './figure.js';

export interface Machine {
  cores: number;
  cpu: string;
  memoryGb: number;
  node: string;
  os: string;
  postgres: string;
}

export interface Report {
  date: string;
  command: string;
  quick: boolean;
  durationSeconds: number;
  machine: Machine;
  figures: Figure[];
  /** Measurements that could not be made, with why. */
  errors: string[];
}

export function machine(postgres: string): Machine {
  const cpu = cpus();
  return {
    cores: cpu.length,
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    os: `${osType()} ${release()}`,
    postgres,
  };
}

function number(value: number): string {
  if (Number.isNaN(value)) return 'n/a';
  if (!Number.isFinite(value)) return '∞';
  const digits = Math.abs(value) >= 100 || Number.isInteger(value) ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toLocaleString('en-US', { minimumFractionDigits: 0, maximumFractionDigits: digits });
}

function ratioText(figure: Figure): string {
  if (Number.isNaN(figure.ratio)) return 'n/a';
  if (!Number.isFinite(figure.ratio)) return '∞';
  return figure.ratioAs === 'percent' ? `${(figure.ratio * 100).toFixed(2)}%` : `${figure.ratio.toFixed(2)}×`;
}

const metText = (figure: Figure): string => (figure.met === null ? '–' : figure.met ? 'yes' : 'NO');

/** Table cells of a figure: #, figure, value, reference, ratio, target, met?. */
function cells(figure: Figure): string[] {
  return [
    String(figure.item),
    figure.label,
    `${number(figure.value)} ${figure.unit}`,
    `${number(figure.reference.value)} ${figure.reference.unit}: ${figure.reference.label}`,
    ratioText(figure),
    figure.target || '–',
    metText(figure),
  ];
}

const HEADER = ['#', 'figure', 'value', 'reference (same run)', 'ratio', 'target', 'met?'];

/** A plain-text table for the terminal. */
export function textTable(figures: readonly Figure[]): string {
  const rows = [HEADER, ...figures.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

function markdownTable(figures: readonly Figure[]): string {
  const escape = (c: string) => c.replace(/\|/g, '\\|');
  const row = (r: string[]) => `| ${r.map(escape).join(' | ')} |`;
  return [row(HEADER), row(HEADER.map(() => '---')), ...figures.map((f) => row(cells(f)))].join('\n');
}

export function notes(figures: readonly Figure[]): string[] {
  return figures.filter((f) => f.note).map((f) => `${f.item} (${f.key}): ${f.note}`);
}

function describeMachine(m: Machine): string {
  return `${m.cores} cores (${m.cpu}), ${m.memoryGb} GB, Node ${m.node}, ${m.os}, ${m.postgres}`;
}

export function printReport(report: Report): void {
  const out = [
    '',
    `crm-sync benchmarks: ${report.date}, ${describeMachine(report.machine)}${report.quick ? ' (QUICK sizes)' : ''}`,
    'Every value is the median of the runs; its reference was measured in the same runs.',
    '',
    textTable(report.figures),
    '',
    ...notes(report.figures).map((n) => `  ${n}`),
    ...report.errors.map((e) => `  NOT MEASURED: ${e}`),
    '',
    `Finished in ${Math.round(report.durationSeconds)} s.`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

export function writeJson(path: string, report: Report): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}

const BEGIN = '<!-- bench:results:begin (written by `pnpm bench`) -->';
const END = '<!-- bench:results:end -->';

/** Replaces the generated part of BENCHMARKS.md; the text around it is left as written. */
export function updateBenchmarksMd(path: string, report: Report): void {
  const generated = [
    BEGIN,
    '',
    `Command: \`${report.command}\` (${Math.round(report.durationSeconds)} s)  `,
    `Date: ${report.date}  `,
    `Machine: ${describeMachine(report.machine)}`,
    '',
    markdownTable(report.figures),
    '',
    ...notes(report.figures).map((n) => `- ${n}`),
    ...report.errors.map((e) => `- NOT MEASURED: ${e}`),
    '',
    END,
  ].join('\n');
  const current = existsSync(path) ? readFileSync(path, 'utf8') : `# Benchmarks\n\n${BEGIN}\n${END}\n`;
  const start = current.indexOf(BEGIN);
  const end = current.indexOf(END);
  const next = start >= 0 && end > start ? current.slice(0, start) + generated + current.slice(end + END.length) : `${current.trimEnd()}\n\n${generated}\n`;
  writeFileSync(path, next);
}
