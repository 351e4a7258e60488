import * as path from 'path';
import { parseArgs } from 'util';
import { ImprintService } from '../service/imprint-service';
import { startWebServer } from './server';

const USAGE = `Usage: imprint-web [--port N]

Serves Imprint's user interface and its engine to a browser on this machine
(127.0.0.1 only) and prints the address to open, which carries a random token:
only a page opened from that address may use the engine.
  --port N   listen on port N (default: a free port)`;

/** Entry of `npm run web` / bin/imprint-web.js. Resolves once the server stopped (Ctrl-C). */
export async function main(argv: string[]): Promise<number> {
  let port = 0;
  try {
    const { values } = parseArgs({ args: argv, options: { port: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    if (values.port !== undefined) {
      port = Number(values.port);
      if (!/^\d+$/.test(values.port) || port < 1 || port > 65535) throw new Error(`--port takes a number from 1 to 65535, not "${values.port}"`);
    }
  } catch (err) {
    process.stderr.write(`imprint-web: ${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }

  const service = new ImprintService();
  // out/electron/browser-mode -> out/renderer
  const staticDir = path.resolve(__dirname, '..', '..', 'renderer');
  let server;
  try {
    server = await startWebServer({ service, staticDir, port });
  } catch (err) {
    await service.dispose();
    process.stderr.write(`imprint-web: cannot listen on 127.0.0.1:${port}: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`Imprint is at ${server.url}\n`);
  process.stdout.write('Open it in a browser on this machine. Press Ctrl-C to stop (running jobs are cancelled).\n');

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  process.stdout.write('Stopping...\n');
  await server.close();
  await service.dispose();
  return 0;
}
