import type { LogLevel } from '../config/schema.js';
import type { Redactor } from './redactor.js';

export type Fields = Record<string, unknown>;

export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /**
   * Progress of long work. On a terminal it rewrites one status line in place; otherwise it is a
   * debug-level JSON line, so logs stay quiet.
   */
  progress(line: string, fields?: Fields): void;
  /** Ends the status line (a newline on a terminal). */
  endProgress(): void;
}

export interface LogStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface LoggerOptions {
  level: LogLevel;
  /** json: one object per line; text: human lines (for a terminal). */
  format: 'json' | 'text';
  stream: LogStream;
  redactor: Redactor;
  now?: () => Date;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Errors become plain objects (JSON.stringify drops their message otherwise). */
function plain(value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return { name: value.name, message: value.message, ...(code !== undefined ? { code } : {}) };
  }
  return value;
}

function textValue(value: unknown): string {
  const v = plain(value);
  if (typeof v === 'string') return /\s/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

export function createLogger(options: LoggerOptions): Logger {
  const { stream, redactor, format } = options;
  const now = options.now ?? (() => new Date());
  const min = RANK[options.level];
  const live = format === 'text' && stream.isTTY === true;
  let statusShown = false;

  const clearStatus = () => {
    if (statusShown) stream.write('\r\x1b[2K');
    statusShown = false;
  };
  const write = (level: LogLevel, msg: string, fields: Fields = {}) => {
    if (RANK[level] < min) return;
    let line: string;
    if (format === 'json') {
      const entries = Object.entries(fields).map(([k, v]) => [k, plain(v)]);
      line = JSON.stringify({ level, time: now().toISOString(), msg, ...Object.fromEntries(entries) });
    } else {
      const time = now().toISOString().slice(11, 19);
      const extra = Object.entries(fields)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k}=${textValue(v)}`)
        .join(' ');
      line = `${time} ${level.toUpperCase().padEnd(5)} ${msg}${extra ? ` ${extra}` : ''}`;
    }
    clearStatus();
    stream.write(`${redactor.redact(line)}\n`);
  };

  return {
    level: options.level,
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    progress(line, fields) {
      if (!live) {
        write('debug', line, fields);
        return;
      }
      if (RANK.info < min) return;
      stream.write(`\r\x1b[2K${redactor.redact(line)}`);
      statusShown = true;
    },
    endProgress() {
      if (live && statusShown) stream.write('\n');
      statusShown = false;
    },
  };
}
