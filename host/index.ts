// The host library API (dist/lib.js): run sandboxes from code rather than the command line.
export { run, commandLine, SandboxError, type RunOptions, type RunResult } from './sandbox';
export { runReplicas, type ReplicaOptions, type ReplicaResult } from './replicas';
export { MemoryFilestore, parseSize, type Filestore } from './filestore';
export type { Streams } from './glue';
export { writeImage, imageBytes, type ImageSpec, type ImageFormat } from './image-writer';
export { extractImage } from './extract';
