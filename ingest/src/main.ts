/** Process entry of the ingest service. */
import { runService } from '../../core/src/service-main';
import { build } from './index';

runService('ingest', (config) => build(config));
