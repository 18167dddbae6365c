// Whether this machine can record memtrace fixtures on the fly (gcc, strace, setarch, and ptrace allowed).
import { spawnSync } from 'node:child_process';

/** undefined if the tools work here, else why not (for t.skip). */
export function memtraceUnavailable(): string | undefined {
  for (const tool of ['gcc', 'strace', 'setarch']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { timeout: 5000 }).status !== 0) return `${tool} not found`;
  }
  // containers may forbid ptrace, or personality changes
  const probe = spawnSync('setarch', ['-R', 'strace', '-o', '/dev/null', '-e', 'trace=none', 'true'], { timeout: 10000 });
  if (probe.status !== 0) return `strace cannot run here: ${String(probe.stderr).trim().split('\n')[0]}`;
  return undefined;
}
