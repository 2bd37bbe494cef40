// The kernel's abort handler (asconfig "use": abort=...). An abort means a kernel bug: a failed
// `if (DEBUG) assert(...)` or an AssemblyScript runtime check. It reports where, then traps; the host
// turns the trap into a one-line error and ends the sandbox. It must not allocate.
import { kernel_panic } from "../host";

export function kernelAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  let ptr: usize = 0;
  let len: u32 = 0;
  if (message !== null) {
    ptr = changetype<usize>(message);
    len = <u32>message.length;
  }
  let fptr: usize = 0;
  let flen: u32 = 0;
  if (fileName !== null) {
    fptr = changetype<usize>(fileName);
    flen = <u32>fileName.length;
  }
  kernel_panic(ptr, len, fptr, flen, line, column);
  unreachable();
}
