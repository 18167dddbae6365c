// The seed of every seeded test: MMSPLIT_SEED if set, else a fixed one, so that `npm test` runs the same
// way every time. Random exploration is `npm run test:random`, which prints the seed it drew.
import { seedFromEnv } from '../../src/util/prng.js';

export const TEST_SEED = 1;

export function testSeed(): number {
  return seedFromEnv(TEST_SEED);
}
