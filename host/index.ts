// The host library API (dist/lib.js): run sandboxes from code rather than the command line.
export { run, commandLine, SandboxError, type RunOptions, type RunResult } from './sandbox/sandbox';
export { runReplicas, type ReplicaOptions, type ReplicaResult } from './sandbox/replicas';
export { MemoryFilestore, parseSize, type Filestore } from './filestore/filestore';
export type { Streams } from './sandbox/glue';
export { writeImage, imageBytes, type ImageSpec, type ImageFormat } from './image/image-writer';
export { extractImage } from './image/extract';
