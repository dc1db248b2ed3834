/**
 * Node-RED 3 compatibility (package.json declares "node-red": ">=3.0.0"): node-red@3.1.15, the last
 * 3.x, on the Node running the tests, cached in .test-tmp/nr3 (see nodered-release.ts).
 */
import { describeRelease } from './nodered-release';

describeRelease({ nodeRed: '3.1.15', dir: 'nr3', loader: 'Node-RED 3 require()' });
