#!/usr/bin/env node
// Launcher for `npx oidc-magic-link …`: the compiled CLI when the package is built (installed
// from the registry or a tarball), else the TypeScript source through tsx (a clone of the repository).
import { existsSync } from 'node:fs';

process.env.OIDC_MAGIC_LINK_CLI = '1';
const built = new URL('../dist/cli.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli.ts');
}
