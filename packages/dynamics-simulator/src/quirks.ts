/**
 * Answers the real service is documented or seen to give, off by default, for testing clients
 * against them.
 */
export interface QuirkSettings {
  /**
   * `$batch` ignores `Prefer: odata.continue-on-error`: the first failing operation stops the batch,
   * answered with 400 and only the failed part (the documented answer without the preference).
   */
  ignoreContinueOnError: boolean;
  /**
   * Columns left out of the `$select` of the links the service returns, as in Microsoft's
   * change-tracking example (four columns asked for, three in the deltaLink). `links` says which
   * (default both); a link whose `$select` would be left empty keeps it.
   */
  narrowLinks: { drop: string[]; links: Array<'deltaLink' | 'nextLink'> } | null;
}

export type QuirksInput = Partial<Omit<QuirkSettings, 'narrowLinks'>> & {
  narrowLinks?: { drop: string[]; links?: Array<'deltaLink' | 'nextLink'> } | null;
};

export const NO_QUIRKS: QuirkSettings = { ignoreContinueOnError: false, narrowLinks: null };

/** `current` with `input` applied (fields not given are kept). */
export function applyQuirks(current: QuirkSettings, input: QuirksInput): QuirkSettings {
  const { narrowLinks, ...rest } = input;
  return {
    ...current,
    ...rest,
    ...(narrowLinks === undefined
      ? {}
      : { narrowLinks: narrowLinks === null ? null : { drop: [...narrowLinks.drop], links: [...(narrowLinks.links ?? ['deltaLink', 'nextLink'])] } }),
  };
}
