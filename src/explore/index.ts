// mmsplit explore: a recorded replay of one schedule, drawn as one self-contained page.
export { explore, locateViolation, type ExploreMode, type ExploreOptions, type ExploreRun, type ExploreViolation } from './explore.js';
export { AddressSpaceRecorder, snapshot, type FrameState, type PteState, type RunRecording, type Snapshot, type StepRecord, type VmaState } from './record.js';
export { renderExplorePage, writeExplorePage } from './page.js';
export { renderReplayPage, writeReplayPage } from './replay-page.js';
