// Browser shim for Node built-ins that only Node code paths use (host trees, the layer cache's
// worker threads, host files): importing works, and any use throws, naming what was used.
'use strict';
const stub = (name) =>
  new Proxy(function () {}, {
    get: (_t, key) => (key === '__esModule' ? false : key === 'default' ? stub(name) : stub(`${name}.${String(key)}`)),
    apply: () => {
      throw new Error(`${name}() is not available in the browser`);
    },
    construct: () => {
      throw new Error(`new ${name}() is not available in the browser`);
    },
  });
module.exports = stub; // build.mjs: `module.exports = require(this)('node:fs')` per module
