/** What to do when a doctor step fails, in the words of the Power Platform and Entra admin centers. */
export const HINTS = {
  store: 'Check CRM_SYNC_DATABASE_URL (host, port, user, password, database) and that PostgreSQL accepts connections from this machine.',
  migrations: 'Run crm-sync migrate (crm-sync start applies them too).',
  reach: 'Check crm.environmentUrl (https://<org>.crm.dynamics.com) and that this machine reaches it and login.microsoftonline.com (proxy, firewall).',
  credentials:
    'Check crm.tenantId (Directory ID), crm.clientId (Application ID) and the client secret in CRM_SYNC_CLIENT_SECRET (Entra admin center > App registrations > Certificates & secrets; secrets expire).',
  authority: (host: string) =>
    `No token: the sign-in authority ${host} did not answer. Check crm.authorityHost (default https://login.microsoftonline.com) and that this machine reaches ${host} (DNS, proxy, firewall, TLS inspection).`,
  simulatorCredentials:
    "Check crm.tenantId, crm.clientId and the secret in the variable crm.clientSecretEnv names against the simulator's credentials (leave them out to use the simulator's own).",
  applicationUser:
    'Create an application user for this client id in the environment (Power Platform admin center > Environments > Settings > Users + permissions > Application users) and give it a security role.',
  metadata: 'The security role of the application user needs Read on the table and on its metadata (the Basic User role includes it).',
  customEntity: 'Check customEntities[].name against the logical name of the table in Power Apps (Tables > the table > Properties > Advanced options).',
  readPrivilege: (table: string) =>
    `Give the application user's security role organization-level Read on the ${table} table (Power Platform admin center > Security roles); narrower access hides rows and breaks change tracking.`,
  writePrivilege: (table: string) =>
    `Give the security role Write on the ${table} table, and check the field security profiles: local changes are only pushed to fields the sync user may update.`,
  changeTracking: (table: string) =>
    `Enable change tracking on ${table} (Power Apps > Tables > ${table} > Properties > Advanced options > Track changes) so deletes and changes arrive in each delta.`,
  unknownFields: (entity: string) => `Fix the names in sync.entities.${entity}.fields: crm-sync never creates CRM fields (R8).`,
  securedFields: 'Secured columns are synced only with a field security profile that grants the application user Read (and Update to push).',
} as const;
