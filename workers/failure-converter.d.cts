// Types of workers/failure-converter.cjs (CommonJS, loaded by path by Temporal).
import type { FailureConverter } from '@temporalio/common';

/** The mark a workflow puts on an error whose message the converter may leave in clear. */
export declare const READABLE: unique symbol;
export declare const failureConverter: FailureConverter;
