#!/usr/bin/env node
// Removes dist/ of the package in the current directory before `npm pack` builds it again
// (prepack), so no output of a source deleted since the last build ships in the tarball.
import { rmSync } from "node:fs";

rmSync("dist", { recursive: true, force: true });
