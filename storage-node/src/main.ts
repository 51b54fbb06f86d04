/** Process entry of a storage node. */
import { runService } from '../../core/src/service-main';
import { build } from './index';

runService('storage-node', (config) => build(config));
