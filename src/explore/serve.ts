/**
 * `mmsplit explore --serve`: the written page over HTTP on 127.0.0.1 only (node:http, no dependency), for a
 * browser that will not open local files or a machine reached through an SSH tunnel. The page is
 * self-contained, so one file is all there is to serve; it is read again at each request, so a page
 * rewritten by another run is what the next reload shows.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PageServer {
  url: string;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:`port` (0: a free one) and serves `file` at / and /index.html. */
export function servePage(file: string, port: number): Promise<PageServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path !== '/' && path !== '/index.html') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: this server has one page, at /\n');
      return;
    }
    fs.readFile(file, (err, body) => {
      if (err) {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`${err.message}\n`);
        return;
      }
      // no-store: a reload after another `explore` run shows the new page, not a cached one.
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': body.length, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      const { port: bound } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${bound}/`,
        close: () => new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        }),
      });
    });
  });
}
