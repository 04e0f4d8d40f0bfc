/**
 * Item 8: the adapter alone against dynamics-web-api 2.5.0, the same entity set from the same
 * simulator, limits off (from the initial-sync runs) and on (from the throttling runs).
 * dynamics-web-api does not retry a 429, so with limits on it does not finish a load: its rate
 * for a complete load is 0 and the adapter is "far ahead" by any ratio.
 */
import type { Figure, Run } from '../lib/figure.js';
import { makeFigure } from '../lib/figure.js';

export function webApiFigures(options: {
  off: { runs: Run[]; failures: string[]; what: string };
  on: { runs: Run[]; failures: string[]; what: string };
}): Figure[] {
  const { off, on } = options;
  const failures = (list: string[], runs: number) => (list.length ? `dynamics-web-api failed ${list.length} of ${runs} runs: ${list[0]}` : '');
  return [
    makeFigure({
      key: 'web-api.limits-off', item: 8, label: `Adapter alone, limits off (${off.what})`, unit: 'records/s',
      reference: { label: 'dynamics-web-api 2.5.0, same columns and pages', unit: 'records/s' }, target: 'ratio ≥ 1.0',
      runs: off.runs, met: ({ ratio }) => ratio >= 1,
      ...(off.failures.length ? { note: failures(off.failures, off.runs.length) } : {}),
    }),
    makeFigure({
      key: 'web-api.limits-on', item: 8, label: `Adapter alone, limits on (${on.what})`, unit: 'records/s',
      reference: { label: 'dynamics-web-api 2.5.0, complete loads only', unit: 'records/s' }, target: 'far ahead',
      runs: on.runs, met: ({ value, reference }) => value > 0 && (reference === 0 || value / reference >= 2),
      ...(on.failures.length ? { note: failures(on.failures, on.runs.length) } : {}),
    }),
  ];
}
