import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

/**
 * A loopback stand-in for Electron's download site (what ELECTRON_MIRROR
 * names): it serves, under `v<version>/`, an Electron zip named as the real
 * one for this platform and version, and a SHASUMS256.txt that matches it.
 * The zip's "binary" is a shell script that records each launch: its own path,
 * then its arguments, one per line, appended to `launchLog`.
 */
export interface StandInSite {
  /** The ELECTRON_MIRROR value (with its trailing slash: @electron/get appends `v<version>/<file>`). */
  mirror: string;
  /** Paths requested so far, in order. */
  requests: string[];
  launchLog: string;
  close(): Promise<void>;
}

/** The zip name @electron/get asks for: electron-v<version>-<platform>-<arch>.zip. */
export function electronZipName(version: string): string {
  return `electron-v${version}-${process.platform}-${process.arch}.zip`;
}

export async function startStandInSite(dir: string, version: string): Promise<StandInSite> {
  const launchLog = path.join(dir, 'launches.log');
  const content = path.join(dir, 'zip-content');
  fs.mkdirSync(content, { recursive: true });
  // Linux's binary is `electron` at the zip's top (what electron's install.js writes to path.txt).
  const quoted = `'${launchLog.replace(/'/g, `'\\''`)}'`;
  fs.writeFileSync(path.join(content, 'electron'), `#!/bin/sh\n{ printf '%s\\n' "$0"; printf '%s\\n' "$@"; printf -- '--\\n'; } >> ${quoted}\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(content, 'version'), version);
  const zipName = electronZipName(version);
  const zipPath = path.join(dir, zipName);
  // zip(1) keeps the script's mode bits, which extract-zip restores.
  execFileSync('zip', ['-q', '-X', zipPath, 'electron', 'version'], { cwd: content });
  const zip = fs.readFileSync(zipPath);
  const sums = `${createHash('sha256').update(zip).digest('hex')} *${zipName}\n`;
  const files = new Map<string, Buffer>([
    [`/v${version}/${zipName}`, zip],
    [`/v${version}/SHASUMS256.txt`, Buffer.from(sums)],
  ]);

  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    requests.push(url);
    const body = files.get(url);
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    mirror: `http://127.0.0.1:${port}/`,
    requests,
    launchLog,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A loopback port with nothing listening (bound, then released): a download site that cannot be reached. */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
