import { appendFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Logger } from '@fleetforge/functions/adapters';

/**
 * The local pager (GH-033): a webhook receiver that appends every alert it is
 * sent to `alerts.log` (one JSON line each) and logs it. On GCP the same POST
 * goes to a real pager integration through FF_ALERT_WEBHOOK_URL.
 */
export function startAlertReceiver(port: number, logFile: string, log: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(405).end();
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c.length + body.length > 64_000 ? '' : c));
    req.on('end', () => {
      let alert: unknown;
      try {
        alert = JSON.parse(body);
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"not JSON"}');
        return;
      }
      appendFileSync(logFile, `${JSON.stringify({ receivedAt: new Date().toISOString(), alert })}\n`);
      log.warn({ alert }, 'PAGE: dedicated pool alert received');
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
