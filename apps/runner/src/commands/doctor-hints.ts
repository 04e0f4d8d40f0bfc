import type { LoadedConfig } from '../config/load.js';

/**
 * What to check when a doctor step fails, when the CRM plugin has no words of its own for it
 * (`CrmPlugin.hints`, e.g. the Dataverse admin centers' for the built-ins). `{entity}` and `{host}`
 * stand for the table and the sign-in host.
 */
const GENERIC = {
  store: 'Check the store options in the config and that this machine reaches the store.',
  reach: 'Check the CRM options in the config (its URL) and that this machine reaches the CRM (proxy, firewall).',
  credentials: 'Check the credentials in the CRM options and the environment variable holding the secret.',
  authority: 'No token: the sign-in host {host} did not answer. Check that this machine reaches it (DNS, proxy, firewall).',
  applicationUser: 'The CRM refused the sync user: check that it exists in the CRM and has a role.',
  metadata: 'The sync user needs read access to the table {entity} and to its metadata.',
  customEntity: 'Check customEntities[].name against the name of the table {entity} in the CRM.',
  readPrivilege: 'Give the sync user read access to every row of {entity}; narrower access hides rows.',
  writePrivilege: 'Give the sync user write access to {entity}: local changes are only pushed to fields it may update.',
  changeTracking: 'Turn on change tracking for {entity} so deletes and changes arrive in each delta.',
  unknownFields: 'Fix the names in sync.entities.{entity}.fields: crm-sync never creates CRM fields (R8).',
  securedFields: 'Secured fields are synced only when the sync user may read them (and update them to push).',
} as const;

export type HintKey = keyof typeof GENERIC;

/** The hint for a failed step: the CRM plugin's own, else the generic one, with its placeholders filled. */
export function hint(loaded: Pick<LoadedConfig, 'plugins'>, key: HintKey, values: { entity?: string; host?: string } = {}): string {
  const text = loaded.plugins.crm.hints?.[key] ?? GENERIC[key];
  return text.replaceAll('{entity}', values.entity ?? 'the table').replaceAll('{host}', values.host ?? 'the sign-in host');
}
