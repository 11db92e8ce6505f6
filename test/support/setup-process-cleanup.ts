// Setup file of the projects whose tests start processes (see process-cleanup.ts).
import { installProcessCleanup } from './process-cleanup';

installProcessCleanup();
