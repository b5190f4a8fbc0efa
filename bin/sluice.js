#!/usr/bin/env node
// Entry point of the `sluice` command. Sluice is TypeScript run by Node's built-in type stripping (Node >= 22.18),
// so there is no build step; an older Node gets told what to do instead of a syntax error.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  process.stderr.write(
    `sluice needs Node.js 22.18 or newer (this is ${process.version}).\n` +
      'Run it through npm so the Node that `npm ci` installed is used: `npx sluice …` or `npm start`.\n',
  );
  process.exit(1);
}
const { main } = await import('../src/cli/main.ts');
await main();
