// `npm start`: two demo upstream instances on 127.0.0.1:3001 and :3002, and Sluice in front of them on :8080
// with the admin API on 127.0.0.1:9901, all in this one process.
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.ts';
import { startDemoUpstream } from './demo-upstream.ts';

const config = fileURLToPath(new URL('./quickstart.yaml', import.meta.url));
try {
  await startDemoUpstream('demo-1', 3001);
  await startDemoUpstream('demo-2', 3002);
} catch (err) {
  process.stderr.write(`quickstart: cannot start the demo upstream (${(err as Error).message}); free ports 3001 and 3002 and retry.\n`);
  process.exit(2);
}
process.stderr.write(
  '\nSluice quickstart\n' +
    '  proxy   http://localhost:8080   try: curl localhost:8080/api/users   (twice: the instance alternates)\n' +
    '  admin   http://127.0.0.1:9901   try: curl 127.0.0.1:9901/api/v1/config\n' +
    `  config  ${config}  (edit it: routing changes within a second)\n\n`,
);
await main([process.argv[0]!, 'sluice', 'start', '-c', config, '--workers', '1']);
