import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A theme folder in a temporary directory holding `files` (relative path → content). */
export function makeTheme(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'oml-theme-'));
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(root, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  return root;
}
