// A raw HTTP request with any method (fetch refuses TRACE and CONNECT-like methods): the status, Allow header and body.
import { request } from 'node:http';

export function send(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  const { hostname, port } = new URL(base);
  return new Promise<{ status: number; allow: string | undefined; text: string }>((resolve, reject) => {
    const req = request(
      {
        hostname,
        port,
        method,
        path,
        headers: { ...headers, ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}) },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, allow: res.headers.allow, text }));
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}
