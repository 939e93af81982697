#!/usr/bin/env node
// The compiled CLI lives in dist/; `npm install` builds it (the prepare script).
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    console.error('parley: not built yet; run `npm run build` first');
    process.exit(1);
  }
  throw err;
});
