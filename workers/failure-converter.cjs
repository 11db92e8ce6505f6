// The engine's failure converter, loaded by path (Temporal's DataConverter takes it as `failureConverterPath`) into
// both the workflow bundle and the worker's main thread. It moves failure messages and stack traces into a payload,
// so the payload codec encrypts them like any other data: a rejected gate's comment, an abort reason or a canary
// verdict inside an error message never sits in Temporal in clear text. Without a codec the payload is plain JSON,
// which every Temporal client and the Web UI still read. CommonJS so Node can require it without a TypeScript loader.
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
