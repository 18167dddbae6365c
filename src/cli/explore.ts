// `mmsplit explore`: the page of one schedule — a replay token's, a mutant's violation found by the
// checker's search, or a design's first schedule — recorded step by step while the checker replays it.
// Exit 0 when the page shows no violation, 1 when it shows one, 2 on bad usage (main.ts). With --serve, the
// page is served on 127.0.0.1 until Ctrl-C (or SIGTERM), and the same code is the exit code then.
import path from 'node:path';
import { explore, type ExploreOptions } from '../explore/explore.js';
import { writeExplorePage } from '../explore/page.js';
import { servePage } from '../explore/serve.js';

export async function exploreCommand(o: ExploreOptions & { out: string; json: boolean; serve?: number }): Promise<number> {
  const started = performance.now();
  let lastLine = 0;
  const run = await explore({
    ...o,
    progress: (scenario, done) => {
      // One line every few seconds at most: a search may try thousands of schedules.
      if (o.json || performance.now() - lastLine < 3000) return;
      lastLine = performance.now();
      console.error(`  searching ${scenario}: ${done} schedules`);
    },
  });
  const file = writeExplorePage(run, o.out);
  const ms = performance.now() - started;
  let server: Awaited<ReturnType<typeof servePage>> | undefined;
  if (o.serve !== undefined) {
    try {
      server = await servePage(path.resolve(file), o.serve);
    } catch (e) {
      // The port is taken or not ours to bind: the page is written; say so on one line.
      console.error(`mmsplit explore: --serve: cannot listen on 127.0.0.1:${o.serve}: ${(e as Error).message} (the page is at ${file})`);
      return 2;
    }
  }
  const code = run.violation ? 1 : 0;
  if (o.json) {
    console.log(JSON.stringify({ command: 'explore', design: run.design, scenario: run.scenario, mode: run.mode, token: run.token, page: path.resolve(file), ...(server ? { url: server.url } : {}), steps: run.steps.length, states: run.states.length, ...(run.violation ? { violation: run.violation } : {}), checkCommand: run.checkCommand, origin: run.origin, elapsedMs: Math.round(ms) }, null, 2));
  } else {
    console.log(`mmsplit explore: ${run.design} / ${run.scenario} — ${run.origin}`);
    console.log(`  ${run.steps.length} steps, ${run.states.length} distinct states, recorded in ${Math.round(run.recordMs)} ms`);
    console.log(run.violation ? `  VIOLATION: ${run.violation.message} (${run.violation.where})` : '  no violation in this schedule');
    console.log(`  replay: ${run.checkCommand}`);
    console.log(`wrote ${file} (open it in a browser; keys ← → Home End v)`);
    if (server) console.log(`serving ${server.url} (Ctrl-C stops)`);
  }
  if (!server) return code;
  const s = server;
  await new Promise<void>((stopped) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void s.close().then(stopped);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return code;
}
