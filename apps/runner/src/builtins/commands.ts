/** Commands that belong to a built-in (kept apart from the plugins so `crm-sync --help` loads nothing): `crm-sync simulator` runs the standalone simulated org, with its own --help. */
export const builtInCommands = {
  simulator: async () => (await import('./simulator-command.js')).simulatorCommand,
} as const;
