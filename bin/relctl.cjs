#!/usr/bin/env node
// relctl launcher: runs the TypeScript CLI (cli/relctl.ts) through tsx's require hook.
require('tsx/cjs/api').register();
require('../cli/relctl.ts');
