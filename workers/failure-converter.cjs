// The engine's failure converter, loaded by path (Temporal's DataConverter takes it as `failureConverterPath`) into
// both the workflow bundle and the worker's main thread. It moves failure messages and stack traces into a payload,
// so the payload codec encrypts them like any other data: a rejected gate's comment, an abort reason or a canary
// verdict inside an error message never sits in Temporal in clear text. Without a codec the payload is plain JSON,
// which every Temporal client and the Web UI still read. CommonJS so Node can require it without a TypeScript loader.
//
// One exception: a failure marked with READABLE (a release's own end, see workflows/failures.ts) keeps its message in
// clear as well, so the Temporal UI heads a rolled-back release with its outcome in words instead of "Encoded
// failure". Such a message is made by the engine from its own facts (outcome, failure type, counts), never from what
// a person typed or a provider said; those stay in the sealed attributes and the details.
const { DefaultFailureConverter } = require('@temporalio/common');

/** Marks an error whose message is safe to show in clear (Symbol.for: the same symbol in every bundle). */
const READABLE = Symbol.for('relengine.readable-failure-message');

class EngineFailureConverter extends DefaultFailureConverter {
  errorToFailure(err, payloadConverter, context) {
    const failure = super.errorToFailure(err, payloadConverter, context);
    if (err && typeof err === 'object' && err[READABLE] === true) failure.message = err.message;
    return failure;
  }
}

exports.READABLE = READABLE;
exports.failureConverter = new EngineFailureConverter({ encodeCommonAttributes: true });
