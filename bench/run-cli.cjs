// Runs the broker CLI given as the first argument (`node --cpu-prof bench/run-cli.cjs <cli.js> ...args`)
// and turns SIGTERM/SIGINT into a normal exit, so that V8 writes the --cpu-prof profile.
'use strict';
const path = require('node:path');

const cli = path.resolve(process.argv[2]);
process.argv.splice(1, 2, cli);
const exit = () => process.exit(0);
process.on('SIGTERM', exit);
process.on('SIGINT', exit);
require(cli);
