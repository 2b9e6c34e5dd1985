#!/usr/bin/env node
/**
 * aedes as its README starts it: default in-memory persistence, no authentication, no ACL, no
 * hooks, one TCP listener. The ingest bench connects its devices to it beside the control plane
 * and mosquitto, in the same run: the floor any broker built on aedes stands on, so that what
 * facefleet adds and what aedes itself costs are told apart. Prints `ready <port>`; exits on SIGTERM.
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2] ?? '0');
const broker = await Aedes.createBroker();
const server = createServer((socket) => broker.handle(socket));
server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  console.log(`ready ${typeof address === 'object' && address ? address.port : port}`);
});
process.once('SIGTERM', () => {
  server.close();
  broker.close(() => process.exit(0));
  // open client sockets keep the server from closing: the process ends regardless
  setTimeout(() => process.exit(0), 2000).unref();
});
