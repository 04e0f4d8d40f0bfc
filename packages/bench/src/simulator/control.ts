import type { LimitSettings, RequestLogEntry } from '@crm-sync/dynamics-simulator';

/** The simulator's control API over HTTP (the simulator runs in another process). */
export interface ControlClient {
  updateRow(table: string, id: string, values: Record<string, unknown>, asUser?: string): Promise<void>;
  staffUser(): Promise<string>;
  /** Sequence number of the last logged Web API request (0 when none). */
  lastSeq(): Promise<number>;
  requestsSince(seq: number): Promise<RequestLogEntry[]>;
  limits(): Promise<LimitSettings>;
  resetLimits(): Promise<void>;
}

export function controlClient(url: string): ControlClient {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${url}/_simulator/${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }),
    });
    if (!response.ok) throw new Error(`simulator control ${method} ${path}: ${response.status} ${await response.text()}`);
    return (response.status === 204 ? undefined : await response.json()) as T;
  };
  return {
    async updateRow(table, id, values, asUser) {
      await call('PATCH', `rows/${table}/${id}`, { values, ...(asUser ? { asUser } : {}) });
    },
    async staffUser() {
      const users = await call<{ staff: Array<{ id: string }> }>('GET', 'users');
      const staff = users.staff[0];
      if (!staff) throw new Error('the simulator has no sales user');
      return staff.id;
    },
    async lastSeq() {
      const [last] = await call<RequestLogEntry[]>('GET', 'requests?limit=1');
      return last?.seq ?? 0;
    },
    requestsSince: (seq) => call<RequestLogEntry[]>('GET', `requests?since=${seq}`),
    limits: () => call<LimitSettings>('GET', 'limits'),
    resetLimits: () => call<void>('DELETE', 'limits'),
  };
}
