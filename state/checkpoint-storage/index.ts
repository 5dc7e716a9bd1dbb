/** The durable checkpoint directory: layout, file format, fencing, shared-state accounting, stores. */
export { checkPath, checkSegment, joinPath, SEGMENT, type CheckpointStore, type PutOptions } from './checkpoint-store.js';
export { FsCheckpointStore } from './fs-checkpoint-store.js';
export { MemoryCheckpointStore } from './memory-checkpoint-store.js';
export { FILE_MAGIC, FORMAT_VERSION, corruptFile, decodeFile, encodeFile, type CorruptReason, type DecodedFile, type FileExpectation, type FileHeader, type FileKind } from './file-format.js';
export { decodeMetadata, encodeMetadata, handleProblem, type CheckpointMetadata, type CompletedCheckpoint, type FinalizeInput, type StateFileHandle, type StateScope } from './checkpoint-metadata.js';
export { CheckpointReader } from './checkpoint-reader.js';
export { CheckpointWriter, fencedError, type WriteTarget } from './checkpoint-writer.js';
export { SharedStateRegistry } from './shared-state-registry.js';
export {
  EPOCH_FILE,
  JobCheckpointStorage,
  METADATA_FILE,
  SHARED_DIR,
  TASK_OWNED_DIR,
  checkpointDirName,
  checkpointReader,
  discardSavepoint,
  openSavepoint,
  savepointDirName,
  type LatestRestorable,
  type RecoveryResult,
} from './job-checkpoint-storage.js';
