export const USAGE = `crm-sync: keeps a marketing database in sync with Microsoft Dynamics 365 (Dataverse).

Usage: crm-sync <command> [options]

Commands:
  start                         Scheduler, HTTP API and dashboard (no config: the demo with a simulated org)
  sync --once [--entity E]...   One sync cycle (all entities, or the ones named), then exit
  sync --dry-run [--entity E]... What a cycle would do (creates, updates, pushes, collisions, deletes,
                                fan-outs, skipped fields, CRM calls), writing nothing on either side
  status                        Last cycle and per-entity counts of a running runner (or of the database)
  fields list [E]               Fields per entity: synced, pushed, and every field left out with the reason
  fields add E F                Add field F of entity E to the sync and backfill it (Quick Sync)
  errors replay [--id N]... [--entity E] [--reason TEXT] [--since TIME] [--until TIME] [--all]
                                Retry quarantined records and refused pushes once the cause is fixed
  why E ID FIELD                Why a field of a record holds its value: every value it held, oldest first,
                                when, from which side, by which rule (FIELD: a name, or company.<field>)
  doctor                        Check credentials, WhoAmI, privileges, change tracking, field access, store
  simulator                     Run the standalone simulated Dataverse org (see crm-sync simulator --help)
  migrate                       Apply the store's pending migrations (postgres, embedded)
  export [--out FILE]           Write the store's data to a file (JSON lines), to move it to another store
  import FILE                   Read an export into the configured store (it must be empty)

Options for every command but simulator:
  -c, --config <file>           JSON config file (default: $CRM_SYNC_CONFIG; none = demo defaults)
      --log-level <level>       debug, info, warn or error
      --store <kind>            The store to use (memory, embedded, postgres, or a plugin's), its options from the config
      --json                    Machine output on stdout (sync, status, fields, why, doctor, migrate, export, import)
  -h, --help                    This text

start options:
      --port <n>                HTTP port (default 8787; 0 = any free port)
      --host <addr>             Bind address (default 127.0.0.1; others need CRM_SYNC_API_TOKEN)
      --otel                    Export OpenTelemetry traces over OTLP/HTTP (also sync --once; on by itself
                                when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set)

status, fields, errors, why and sync --dry-run options:
      --url <url>               A running runner's address (default: the server address of the config)

Exit codes: 0 done, 1 failed (a sync error, a doctor check, ...), 2 bad usage or configuration,
130 (SIGINT) or 143 (SIGTERM) when a signal stopped sync --once before its cycle was done.
Environment: CRM_SYNC_CONFIG, CRM_SYNC_ENVIRONMENT_URL, CRM_SYNC_TENANT_ID, CRM_SYNC_CLIENT_ID,
CRM_SYNC_CLIENT_SECRET, CRM_SYNC_DATABASE_URL (or DATABASE_URL), CRM_SYNC_INTERVAL_MS, CRM_SYNC_HOST,
CRM_SYNC_PORT, CRM_SYNC_API_TOKEN, CRM_SYNC_LOG_LEVEL, CRM_SYNC_LOG_FORMAT, CRM_SYNC_RUNNER_ID;
the standard OTEL_EXPORTER_OTLP_* variables, OTEL_SERVICE_NAME and OTEL_SDK_DISABLED for traces.
`;
