// Builds the web console (web/) into web/dist: the TypeScript bundled into one script (no CDN, nothing fetched at
// run time), with index.html and style.css beside it. `npm start` and the tests run it; it takes about a second.
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'web');
const dist = join(web, 'dist');

export async function buildWeb() {
  await mkdir(dist, { recursive: true, mode: 0o755 });
  await build({
    entryPoints: [join(web, 'src', 'main.ts')],
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    outfile: join(dist, 'app.js'),
    logLevel: 'warning',
  });
  await Promise.all(['index.html', 'style.css'].map((file) => copyFile(join(web, file), join(dist, file))));
  return dist;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  buildWeb().then(
    (dir) => console.log(`[build-web] web console built into ${dir}`),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
