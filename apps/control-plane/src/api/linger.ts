import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A "lingering close" for an answer given before the request body was read (413): the answer goes
 * out with `connection: close`, and the connection keeps reading — and discarding — what the client
 * is still sending until it is done, or `maxMs`/`maxBytes` run out, before it closes. Closing at
 * once (what Node does after a `connection: close` answer) resets the connection under a client
 * that is still writing, which then sees EPIPE instead of the 413 (nginx and Apache linger the
 * same way). Only where the app runs under Node's HTTP server (@hono/node-server's `env.incoming`).
 */
export function lingerOnClose(
  incoming: IncomingMessage | undefined,
  maxMs = 5000,
  maxBytes = 256 * 1024 * 1024,
): void {
  const socket = incoming?.socket as (Socket & { destroySoon?: () => void }) | undefined;
  if (!incoming || !socket || socket.destroyed || incoming.readableEnded) return;
  let read = 0;
  const done = () => {
    clearTimeout(timer);
    if (!socket.destroyed) socket.destroy();
  };
  const timer = setTimeout(done, maxMs);
  timer.unref();
  // Node ends the connection after a `connection: close` answer with destroySoon(), which closes
  // the reading side too: end only the writing side, and let the reading run out.
  socket.destroySoon = () => {
    socket.end();
  };
  socket.on('data', (chunk: Buffer) => {
    read += chunk.length;
    if (read > maxBytes) done();
  });
  socket.once('end', done);
  socket.once('error', done);
  incoming.resume();
}
