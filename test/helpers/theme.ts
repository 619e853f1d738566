import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeTempDir } from './temp.js';

/**
 * A theme folder holding `files` (relative path → content): `root`, else a new temp folder the
 * caller removes with `removeTempDir`.
 */
export function makeTheme(files: Record<string, string>, root = makeTempDir('oml-theme-')): string {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(root, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  return root;
}
