// Writes schema/sluice.schema.json and docs/config.md from src/config/schema.ts (`npm run schema`).
// With --check it writes nothing and exits 1 when either file is out of date (`npm run schema:check`, run by CI).
import { readFile, writeFile } from 'node:fs/promises';
import { configJsonSchema } from '../src/config/json-schema.ts';
import { renderConfigDoc } from '../src/config/reference-doc.ts';

const root = new URL('../', import.meta.url);
const outputs = [
  { file: 'schema/sluice.schema.json', content: `${JSON.stringify(configJsonSchema(), null, 2)}\n` },
  { file: 'docs/config.md', content: renderConfigDoc() },
];

async function current(file: string): Promise<string | undefined> {
  try {
    return await readFile(new URL(file, root), 'utf8');
  } catch {
    return undefined;
  }
}

if (process.argv.includes('--check')) {
  let stale = 0;
  for (const { file, content } of outputs) {
    if ((await current(file)) === content) continue;
    console.error(`${file} is out of date: run npm run schema`);
    stale++;
  }
  process.exitCode = stale === 0 ? 0 : 1;
} else {
  for (const { file, content } of outputs) {
    await writeFile(new URL(file, root), content);
    console.log(`wrote ${file}`);
  }
}
