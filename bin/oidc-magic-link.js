#!/usr/bin/env node
// Launcher for `npx oidc-magic-link …`: runs the TypeScript CLI through tsx's loader.
import { register } from 'tsx/esm/api';

register();
process.env.OIDC_MAGIC_LINK_CLI = '1';
await import('../src/cli.ts');
