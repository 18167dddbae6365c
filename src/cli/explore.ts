// `mmsplit explore`: the page of one schedule — a replay token's, a mutant's violation found by the
// checker's search, or a design's first schedule — recorded step by step while the checker replays it.
// Exit 0 when the page shows no violation, 1 when it shows one, 2 on bad usage (main.ts).
import path from 'node:path';
import { explore, type ExploreOptions } from '../explore/explore.js';
import { writeExplorePage } from '../explore/page.js';

export async function exploreCommand(o: ExploreOptions & { out: string; json: boolean }): Promise<number> {
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
  if (o.json) {
    console.log(JSON.stringify({ command: 'explore', design: run.design, scenario: run.scenario, mode: run.mode, token: run.token, page: path.resolve(file), steps: run.steps.length, states: run.states.length, ...(run.violation ? { violation: run.violation } : {}), checkCommand: run.checkCommand, origin: run.origin, elapsedMs: Math.round(ms) }, null, 2));
  } else {
    console.log(`mmsplit explore: ${run.design} / ${run.scenario} — ${run.origin}`);
    console.log(`  ${run.steps.length} steps, ${run.states.length} distinct states, recorded in ${Math.round(run.recordMs)} ms`);
    console.log(run.violation ? `  VIOLATION: ${run.violation.message} (${run.violation.where})` : '  no violation in this schedule');
    console.log(`  replay: ${run.checkCommand}`);
    console.log(`wrote ${file} (open it in a browser; keys ← → Home End v)`);
  }
  return run.violation ? 1 : 0;
}
