// Layer specs: the one description of an image's layers that test fixtures are written in. From a
// spec, test/lib/images.ts builds image archives (plain rootfs tar, `docker save`, OCI layout, gzip or
// not), and test/lib/overlayfs.ts builds the same layers as Linux overlayfs lower directories, so a
// guest can run on both and its results can be compared.
//
// The types live in host/image/image-writer.ts (trusted code that writes images from them, also the basis
// of a `pack` tool); this module re-exports them for tests, under the same names as always.
//
// Paths are relative to the image root, '/'-separated, without a leading '/'. Parent directories
// that a layer does not list are implied (mode 0755). Later entries of one layer replace earlier ones.

export type { Entry, Layers, ImageSpec } from '../../host/image/image-writer';
import { DEFAULT_MTIME } from '../../host/image/image-writer';

/** A fixed mtime for fixtures (2023-03-30T05:18:02Z), so that results do not depend on the clock. */
export const FIXTURE_MTIME = DEFAULT_MTIME;
