/** Every scenario the checker runs, by name: the hand-written races, then the generated programs. */
import { generated, generated3 } from './generated.js';
import { HAND_WRITTEN_SCENARIOS, type CheckScenario } from './scenarios.js';

export const CHECK_SCENARIOS: readonly CheckScenario[] = [...HAND_WRITTEN_SCENARIOS, generated, generated3];

export function checkScenario(name: string): CheckScenario {
  const s = CHECK_SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`unknown scenario '${name}' (have: ${CHECK_SCENARIOS.map((x) => x.name).join(', ')})`);
  return s;
}
