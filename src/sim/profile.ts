/**
 * A simulated machine's profile: the few facts of a machine that decide how the designs' threads get in
 * each other's way once the code itself is costed (costs.ts). Every figure is measured on the machine
 * (`mmsplit simulate --calibrate`) or published for it; none is fitted to a design's results.
 */
import fs from 'node:fs';

export interface MachineProfile {
  name: string;
  /** What machine this is, in a line. */
  description: string;
  /** Where each figure comes from (a measurement with its date and command, or a publication). */
  source: string;
  /** CPUs the machine has (a simulation may ask for more; the report says so). */
  cpus: number;
  /** Sockets: simulated CPU c sits on socket floor(c / (cpus / sockets)). */
  sockets: number;
  /**
   * What an Atomics operation pays on top of the code's own cost when the cache line was last written by
   * another CPU of the same socket: a cache-to-cache transfer, ns. Read-modify-writes of one line are
   * serialised at this cost each (the line moves from CPU to CPU); reads of a line nobody writes are shared
   * for free.
   */
  lineTransferNs: number;
  /** The same from a CPU of another socket, ns. */
  remoteLineTransferNs: number;
  /** From futex_wake() to the woken thread running its next instruction, ns (the scheduler's wake-up). */
  wakeUpNs: number;
  /** What a futex_wait or futex_wake system call costs its caller, ns. */
  futexNs: number;
  /** cpu_relax() (PAUSE on x86), ns: what one turn of a spin loop costs while nothing changes. */
  relaxNs: number;
  /** What one CPU alone streams zeroing or copying pages, GB/s. */
  coreBandwidthGBs: number;
  /** What all the CPUs together stream, GB/s: the shared memory bandwidth. */
  memoryBandwidthGBs: number;
  /**
   * Hardware threads a core runs (SMT, Hyper-Threading: 2; absent: 1). Simulated CPUs are numbered as Linux
   * numbers them: one per core first, socket by socket, then the cores' second threads — CPU c shares its
   * core with c ± cpus / threadsPerCore.
   */
  threadsPerCore?: number;
  /**
   * How fast a hardware thread runs, against alone, while another thread of its core runs too (absent: 1):
   * the two share the core's execution units, so each does less than a whole core's work.
   */
  siblingSpeed?: number;
}

const FIELDS: [keyof MachineProfile, 'string' | 'number'][] = [
  ['name', 'string'], ['description', 'string'], ['source', 'string'], ['cpus', 'number'], ['sockets', 'number'], ['lineTransferNs', 'number'], ['remoteLineTransferNs', 'number'],
  ['wakeUpNs', 'number'], ['futexNs', 'number'], ['relaxNs', 'number'], ['coreBandwidthGBs', 'number'], ['memoryBandwidthGBs', 'number'],
];
/** Fields a profile may leave out (profiles written before them mean a machine without SMT). */
const OPTIONAL: (keyof MachineProfile)[] = ['threadsPerCore', 'siblingSpeed'];

export class ProfileError extends Error {
  override name = 'ProfileError';
}

/** Checks a parsed profile field by field; `where` names the file in the message. */
export function validateProfile(x: unknown, where: string): MachineProfile {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new ProfileError(`${where}: a profile is a JSON object`);
  const o = x as Record<string, unknown>;
  for (const [k, type] of FIELDS) {
    if (typeof o[k] !== type) throw new ProfileError(`${where}: ${k}: expected a ${type}`);
    if (type === 'number' && !(Number.isFinite(o[k]) && (o[k] as number) >= 0)) throw new ProfileError(`${where}: ${k}: expected a finite number ≥ 0`);
  }
  const unknown = Object.keys(o).filter((k) => !FIELDS.some(([f]) => f === k) && !OPTIONAL.includes(k as keyof MachineProfile));
  if (unknown.length) throw new ProfileError(`${where}: unknown field ${unknown[0]} (fields: ${[...FIELDS.map(([f]) => f), ...OPTIONAL].join(', ')})`);
  if (!Number.isInteger(o.cpus) || (o.cpus as number) < 1) throw new ProfileError(`${where}: cpus: expected a whole number ≥ 1`);
  if (!Number.isInteger(o.sockets) || (o.sockets as number) < 1 || (o.cpus as number) % (o.sockets as number) !== 0) throw new ProfileError(`${where}: sockets: expected a whole number ≥ 1 that divides cpus`);
  if ((o.coreBandwidthGBs as number) <= 0 || (o.memoryBandwidthGBs as number) <= 0) throw new ProfileError(`${where}: bandwidths must be > 0`);
  const perCore = o.threadsPerCore ?? 1;
  if (!Number.isInteger(perCore) || (perCore as number) < 1 || (o.cpus as number) % ((o.sockets as number) * (perCore as number)) !== 0) {
    throw new ProfileError(`${where}: threadsPerCore: expected a whole number ≥ 1 such that sockets × threadsPerCore divides cpus`);
  }
  const sibling = o.siblingSpeed ?? 1;
  if (typeof sibling !== 'number' || !(sibling > 0 && sibling <= 1)) throw new ProfileError(`${where}: siblingSpeed: expected a number in (0, 1]`);
  return o as unknown as MachineProfile;
}

/**
 * The profiles that come with mmsplit. `this-machine` was measured on the 2-vCPU machine the lab is
 * developed on; the others are published figures (their `source` says which).
 */
const FUTEX_SERVER = 'futexNs: a system call that returns at once, 100–200 ns on these cores (general knowledge, no stored source)';
const WAKE_SERVER = 'wakeUpNs: the median wake-up latency measured on a 240-CPU Intel server (no figure attributed to this machine was found)';
const PAUSE_OLD = 'relaxNs: PAUSE takes about 10 cycles before Skylake (Intel optimization manual)';
const C2C = 'line transfers: medians of public core-to-core (CAS ping-pong, one way) measurements';
const HT = 'threadsPerCore 2 (Hyper-Threading); siblingSpeed 0.65: Intel reports Hyper-Threading gains of up to 30% on common server benchmarks (Intel Technology Journal 6(1), quoted in "How to Determine the Effectiveness of Hyper-Threading Technology"), so two threads of a core do 1.3 cores\' work, 0.65 each (an assumption: the upper end of the published gain)';

export const PROFILES: Record<string, MachineProfile> = {
  'this-machine': {
    name: 'this-machine',
    description: '2 vCPUs of an AMD EPYC (Firecracker VM), Linux 6.18, Node v20.20.2: the machine mmsplit is developed on',
    source: 'measured by `mmsplit simulate --calibrate` on 2026-12-06, two runs (161.6 and 180.7 ns; 13.1 and 12.9 µs; 65.7 and 65.4 ns; 5.5 ns; 20.4 and 20.6 GB/s; 36.8 and 36.9 GB/s): Atomics.wait returns without a system call in V8, and a wake-up goes through V8\'s futex emulation and the VM',
    cpus: 2,
    sockets: 1,
    lineTransferNs: 171,
    remoteLineTransferNs: 171,
    wakeUpNs: 13000,
    futexNs: 65,
    relaxNs: 5.5,
    coreBandwidthGBs: 20.5,
    memoryBandwidthGBs: 36.9,
  },
  'haswell-2s-48': {
    name: 'haswell-2s-48',
    description: 'HP Z840, 2 × Xeon E5-2690 v3 (Haswell-EP, 12 cores / 24 threads a socket): Lespinasse\'s machine for the 2021 speculative page faults (pft at 48 threads)',
    source: `${C2C} of 2 × E5-2698 v3 (57 ns within a socket, 130 across); coreBandwidthGBs: single-thread STREAM Triad on E5-2690 v3, 19.9 GB/s (McCalpin, Intel forum); memoryBandwidthGBs: STREAM Triad of 2 × E5-2697 v3, 102 GB/s (Puget Systems); ${HT}; ${WAKE_SERVER}; ${FUTEX_SERVER}; ${PAUSE_OLD}`,
    cpus: 48,
    sockets: 2,
    lineTransferNs: 57,
    remoteLineTransferNs: 130,
    wakeUpNs: 6000,
    futexNs: 150,
    relaxNs: 4,
    coreBandwidthGBs: 19.9,
    memoryBandwidthGBs: 102,
    threadsPerCore: 2,
    siblingSpeed: 0.65,
  },
  'ivybridge-2s-40': {
    name: 'ivybridge-2s-40',
    description: '2-socket Ivy Bridge-EP, 40 threads (10 cores / 20 threads a socket), 16 GB: Bueso\'s machine for the 2018 pft figures (stock kernel flat at 3.36 M faults/s from 7 to 40 threads)',
    source: `${C2C} of 2 × E5-2620 v2 (50 ns within a socket, 139 across); bandwidths: writes measured on 2 × E5-2680 v2 by EPFL's mctop (6.2 GB/s a thread, 20.7 GB/s a socket, so 41.4 for two: zeroing writes); ${HT}; ${WAKE_SERVER}; ${FUTEX_SERVER}; ${PAUSE_OLD}`,
    cpus: 40,
    sockets: 2,
    lineTransferNs: 50,
    remoteLineTransferNs: 139,
    wakeUpNs: 6000,
    futexNs: 150,
    relaxNs: 4,
    coreBandwidthGBs: 6.2,
    memoryBandwidthGBs: 41.4,
    threadsPerCore: 2,
    siblingSpeed: 0.65,
  },
  'broadwell-2s-56': {
    name: 'broadwell-2s-56',
    description: '2 × Xeon E5-2690 v4 (Broadwell-EP, 14 cores / 28 threads a socket): the machine of Baghdasaryan\'s pft runs (per-VMA locks as a refcount, 6.15: faults/s +10.85% at 56)',
    source: `${C2C} of 2 × E5-2680 v4 (45.2 ns within a socket, 127.5 across); memoryBandwidthGBs: tuned STREAM of 2 × E5-2699 v4, 128 GB/s (Intel, quoted by AnandTech); coreBandwidthGBs: the Haswell-EP single-thread figure, 19.9 GB/s (an assumption: none was found for Broadwell-EP); ${HT}; ${WAKE_SERVER}; ${FUTEX_SERVER}; ${PAUSE_OLD}`,
    cpus: 56,
    sockets: 2,
    lineTransferNs: 45.2,
    remoteLineTransferNs: 127.5,
    wakeUpNs: 6000,
    futexNs: 150,
    relaxNs: 4,
    coreBandwidthGBs: 19.9,
    memoryBandwidthGBs: 128,
    threadsPerCore: 2,
    siblingSpeed: 0.65,
  },
  'skylake-2s-80': {
    name: 'skylake-2s-80',
    description: '2 × Xeon Gold 6138 (Skylake-SP, 20 cores / 40 threads a socket, 2.0 GHz): Nakryiko\'s machine for the 6.14 mmap_lock speculation (uprobe lookups at 80 CPUs)',
    source: `${C2C} of 2 × Gold 6242 (48.0 ns within a socket, 141.4 across); memoryBandwidthGBs: tuned STREAM of 2-socket Skylake-SP, 199 GB/s (Intel, quoted by AnandTech); coreBandwidthGBs: 12 GB/s, an assumption (Skylake-SP's single-core bandwidth is lower than Haswell-EP's; no stored figure); ${HT}; ${WAKE_SERVER}; ${FUTEX_SERVER}; relaxNs: PAUSE takes up to 140 cycles from Skylake on (Intel optimization manual), 70 ns at 2.0 GHz`,
    cpus: 80,
    sockets: 2,
    lineTransferNs: 48,
    remoteLineTransferNs: 141.4,
    wakeUpNs: 6000,
    futexNs: 150,
    relaxNs: 70,
    coreBandwidthGBs: 12,
    memoryBandwidthGBs: 199,
    threadsPerCore: 2,
    siblingSpeed: 0.65,
  },
};

/** A built-in profile by name, or a profile file (JSON). */
export function loadProfile(nameOrFile: string): MachineProfile {
  const builtIn = PROFILES[nameOrFile];
  if (builtIn) return builtIn;
  if (!nameOrFile.endsWith('.json') && !fs.existsSync(nameOrFile)) {
    throw new ProfileError(`--profile: no profile ${nameOrFile} (built in: ${Object.keys(PROFILES).join(', ')}; or a JSON file)`);
  }
  let text: string;
  try {
    text = fs.readFileSync(nameOrFile, 'utf8');
  } catch (e) {
    throw new ProfileError(`${nameOrFile}: cannot read (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ProfileError(`${nameOrFile}: not JSON (${(e as Error).message})`);
  }
  return validateProfile(parsed, nameOrFile);
}
