import { errors } from './errors.js';

/**
 * Paging cookies shaped like Dataverse's: the `$skiptoken` is URL-encoded XML
 * `<cookie pagenumber="2" pagingcookie="..." istracking="False" />` whose pagingcookie holds a
 * double-encoded inner cookie naming the last row of the previous page. Clients must treat it as opaque.
 */
export interface PagingState {
  /** Number of the page this cookie asks for. */
  page: number;
  /** Id of the last row served. */
  lastId?: string;
  firstId?: string;
  /** JSON-encoded sort values of the last row served (ordered queries). */
  lastValues?: string;
  /** Rows served so far ($top above 5,000). */
  served?: number;
  /** Delta token the initial change-tracking read will end with. */
  deltaToken?: string;
  /** Delta paging: phase and last version served, and the version the delta ends at. */
  phase?: 'changed' | 'deleted';
  lastVersion?: number;
  upTo?: number;
  tracking: boolean;
}

const escapeXml = (text: string): string => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const unescapeXml = (text: string): string => text.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

function attributes(tag: string): Map<string, string> {
  const result = new Map<string, string>();
  for (const match of tag.matchAll(/([A-Za-z_][\w.-]*)="([^"]*)"/g)) result.set(match[1]!, unescapeXml(match[2]!));
  return result;
}

export function encodeSkipToken(state: PagingState, primaryKey: string): string {
  const innerAttributes = [`page="${state.page - 1}"`];
  if (state.served !== undefined) innerAttributes.push(`served="${state.served}"`);
  if (state.deltaToken !== undefined) innerAttributes.push(`deltatoken="${escapeXml(state.deltaToken)}"`);
  if (state.phase !== undefined) innerAttributes.push(`phase="${state.phase}"`);
  if (state.lastVersion !== undefined) innerAttributes.push(`lastversion="${state.lastVersion}"`);
  if (state.upTo !== undefined) innerAttributes.push(`upto="${state.upTo}"`);
  let body = '';
  if (state.lastValues !== undefined) body += `<sortvalues last="${escapeXml(state.lastValues)}" />`;
  if (state.lastId !== undefined) body += `<${primaryKey} last="{${state.lastId.toUpperCase()}}" first="{${(state.firstId ?? state.lastId).toUpperCase()}}" />`;
  const inner = `<cookie ${innerAttributes.join(' ')}>${body}</cookie>`;
  const pagingCookie = encodeURIComponent(encodeURIComponent(inner));
  const outer = `<cookie pagenumber="${state.page}" pagingcookie="${pagingCookie}" istracking="${state.tracking ? 'True' : 'False'}" />`;
  return outer;
}

/** Decodes a `$skiptoken` value (already URL-decoded once by the query string parser). */
export function decodeSkipToken(token: string): PagingState {
  const invalid = () => errors.badRequest('The paging cookie is not valid. Request the first page again.', '0x80040203');
  const outerMatch = /^<cookie\s[^>]*\/>$/.exec(token.trim());
  if (!outerMatch) throw invalid();
  const outer = attributes(token);
  const page = Number(outer.get('pagenumber'));
  const rawCookie = outer.get('pagingcookie');
  if (!Number.isInteger(page) || page < 2 || rawCookie === undefined) throw invalid();
  let inner: string;
  try {
    inner = decodeURIComponent(decodeURIComponent(rawCookie));
  } catch {
    throw invalid();
  }
  const cookieTag = /^<cookie\s([^>]*)>(.*)<\/cookie>$/s.exec(inner);
  if (!cookieTag) throw invalid();
  const innerAttrs = attributes(cookieTag[1]!);
  const state: PagingState = { page, tracking: outer.get('istracking') === 'True' };
  const served = innerAttrs.get('served');
  if (served !== undefined) state.served = Number(served);
  const deltaToken = innerAttrs.get('deltatoken');
  if (deltaToken !== undefined) state.deltaToken = deltaToken;
  const phase = innerAttrs.get('phase');
  if (phase === 'changed' || phase === 'deleted') state.phase = phase;
  const lastVersion = innerAttrs.get('lastversion');
  if (lastVersion !== undefined) state.lastVersion = Number(lastVersion);
  const upTo = innerAttrs.get('upto');
  if (upTo !== undefined) state.upTo = Number(upTo);
  const sort = /<sortvalues last="([^"]*)" \/>/.exec(cookieTag[2]!);
  if (sort) state.lastValues = unescapeXml(sort[1]!);
  const key = /<[a-z_0-9]+ last="\{([0-9A-Fa-f-]{36})\}" first="\{([0-9A-Fa-f-]{36})\}" \/>/.exec(cookieTag[2]!);
  if (key) {
    state.lastId = key[1]!.toLowerCase();
    state.firstId = key[2]!.toLowerCase();
  }
  for (const n of [state.served, state.lastVersion, state.upTo]) if (n !== undefined && !Number.isFinite(n)) throw invalid();
  return state;
}
