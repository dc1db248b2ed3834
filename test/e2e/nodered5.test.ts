/**
 * Node-RED 5 compatibility: node-red@5.0.7 on Node 22 (Node-RED 5 needs 22.9+; the npm package
 * `node@22` ships the binary), cached in .test-tmp/nr5. Node-RED 5 loads node modules with
 * import(): this confirms that our CommonJS entries load, every node type registers without error,
 * and the demo flow runs (see nodered-release.ts).
 */
import { describeRelease } from './nodered-release';

describeRelease({ nodeRed: '5.0.7', nodeMajor: 22, dir: 'nr5', loader: 'Node-RED 5 import()' });
