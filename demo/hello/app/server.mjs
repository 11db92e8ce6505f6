// The demo service `hello`, as shipped inside its artifact. Plain Node, no dependencies.
// Its behaviour per version comes from behaviour.json, packed next to it (see demo/hello/versions.json).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const artifact = JSON.parse(readFileSync(new URL('./artifact.json', import.meta.url), 'utf8'));
const behaviour = JSON.parse(readFileSync(new URL('./behaviour.json', import.meta.url), 'utf8'));
const region = process.env.REGION ?? 'unknown';
const port = Number(process.env.PORT ?? 0);
// A version can fail in some regions only (a region-specific dependency), e.g. { "failureRateIn": { "eu-1": 0.5 } }.
const baseFailureRate = behaviour.failureRateIn?.[region] ?? behaviour.failureRate;
// A version can degrade: healthy for degradeAfterSeconds after the process starts (long enough to pass a short
// canary), then failing degradedFailureRate of its requests, the kind of bug only watching after promotion catches.
const startedAt = Date.now();
const failureRate = () =>
  behaviour.degradeAfterSeconds !== undefined && Date.now() - startedAt >= behaviour.degradeAfterSeconds * 1000
    ? (behaviour.degradedFailureRate ?? baseFailureRate)
    : baseFailureRate;
// Set once asked to stop: the health check then fails, while requests already routed here are still served.
let stopping = false;

const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    if (stopping) {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ service: artifact.service, version: artifact.version, stopping: true }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ service: artifact.service, version: artifact.version, region, pid: process.pid }));
    return;
  }
  const delay = behaviour.latencyMs * (0.5 + Math.random());
  setTimeout(() => {
    if (Math.random() < failureRate()) {
      res.writeHead(500, { 'content-type': 'text/plain', 'x-version': artifact.version });
      res.end(`${artifact.service}@${artifact.version}: internal error\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'x-version': artifact.version });
    res.end(`${behaviour.greeting} from ${artifact.service}@${artifact.version} in ${region}\n`);
  }, delay);
});

server.keepAliveTimeout = 5000;
// A version may take a while to start (startupDelayMs), like a real service warming caches.
setTimeout(() => {
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(`${artifact.service}@${artifact.version} listening on ${server.address().port}\n`);
  });
}, behaviour.startupDelayMs ?? 0);
// A version may also take a while to stop (shutdownDelayMs), like a real service finishing its work.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => server.close(() => process.exit(0)), behaviour.shutdownDelayMs ?? 0);
  });
}
