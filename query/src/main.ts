/** Process entry of the query service. */
import { runService } from '../../core/src/service-main';
import { build } from './index';

runService('query', (config) => build(config));
