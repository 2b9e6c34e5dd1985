#!/usr/bin/env node
/** Writes docs/protocol.md at the repository root (run after a build: `pnpm gen:docs`). */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { protocolDoc } from './docs.js';

const file = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'docs', 'protocol.md');
writeFileSync(file, protocolDoc());
console.log(`wrote ${file}`);
