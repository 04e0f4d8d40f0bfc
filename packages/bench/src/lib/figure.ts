import { median } from './stats.js';

/** One run's measurement and its reference from the same run. */
export interface Run {
  value: number;
  reference: number;
}

/** One line of the results table: a figure beside its reference, measured in the same run. */
export interface Figure {
  /** Stable key for the JSON, e.g. `initial-sync.memory`. */
  key: string;
  /** Which numbered item of BENCHMARKS.md it answers (1-9). */
  item: number;
  label: string;
  /** Median over runs. */
  value: number;
  unit: string;
  reference: { label: string; value: number; unit: string };
  /** Median value / median reference. */
  ratio: number;
  /** How the ratio reads: `0.84×` or, for shares, `0.5%`. */
  ratioAs: 'times' | 'percent';
  /** The target in words, or '' when there is none. */
  target: string;
  /** null when this figure has no target. */
  met: boolean | null;
  runs: Run[];
  note?: string;
}

export interface FigureInput {
  key: string;
  item: number;
  label: string;
  unit: string;
  reference: { label: string; unit: string };
  target?: string;
  ratioAs?: 'times' | 'percent';
  runs: Run[];
  /** Decides "met" from the medians; leave out when there is no target. */
  met?: (medians: { value: number; reference: number; ratio: number }) => boolean;
  note?: string;
}

/** A figure from its runs: medians of value and reference, and their ratio. */
export function makeFigure(input: FigureInput): Figure {
  const value = median(input.runs.map((r) => r.value));
  const reference = median(input.runs.map((r) => r.reference));
  // A reference of 0 (the other client never finished) makes any finished value infinitely ahead.
  const ratio = reference > 0 ? value / reference : reference === 0 && value > 0 ? Number.POSITIVE_INFINITY : Number.NaN;
  const measured = Number.isFinite(value);
  return {
    key: input.key,
    item: input.item,
    label: input.label,
    value,
    unit: input.unit,
    reference: { ...input.reference, value: reference },
    ratio,
    ratioAs: input.ratioAs ?? 'times',
    target: input.target ?? '',
    met: input.met ? measured && input.met({ value, reference, ratio }) : null,
    runs: input.runs,
    ...(input.note ? { note: input.note } : {}),
  };
}
