// Preloaded by profile.sh (node --import): a CPU profile of the load window only, without start-up and warm-up.
// SIGUSR2 starts V8's sampling profiler (the one --cpu-prof uses, 1 ms interval); SIGTERM stops it, writes
// $PROF_OUT (.cpuprofile JSON) and exits. Without SIGUSR2, SIGTERM just exits (for --trace-gc runs).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const session = new Session();
session.connect();
let running = false;
process.on('SIGUSR2', () => {
  session.post('Profiler.enable', () =>
    session.post('Profiler.setSamplingInterval', { interval: 1000 }, () => session.post('Profiler.start', () => (running = true))),
  );
});
process.on('SIGTERM', () => {
  if (!running || !process.env.PROF_OUT) process.exit(0);
  session.post('Profiler.stop', (err, result) => {
    if (!err) writeFileSync(process.env.PROF_OUT, JSON.stringify(result.profile));
    process.exit(0);
  });
});
