// mmsplit/check: the checker as a library — explore a design's interleavings (runCheck), replay one by its
// token (replay), in a test of your own design (what `mmsplit new-design` writes).
// TypeScript users on the default target (ES5) get the ES2022 library these types are written against.
/// <reference lib="es2022" preserve="true" />
export {
  CHECK_MODES, CHECK_SCENARIOS, runCheck, replay, parseReplay, formatReplay,
  type CheckMode, type CheckOptions, type CheckReport, type ReplayToken, type Violation,
} from './check.js';
