/**
 * Peer 2 on several nodes (scenarios 5-7): the socket.io peer of socketio-server.ts, deployed as
 * socket.io's documentation deploys several servers, with `@socket.io/redis-adapter` on one Redis
 * (REDIS_URL). Every node runs this file; a broadcast reaches the room's sockets on every node
 * through Redis pub/sub. The Redis client is ioredis 5, one of the two the adapter is tested with
 * (node-redis 4 is the other). node-redis 6, which Parley uses, also works with it, but its default
 * 5-s command timeout rejected a publish of the adapter under scenario 5's join burst, and the
 * rejection, unhandled in the adapter, ended the node.
 *
 * The same work per connection as the one-node peer: the signed sign-in token (PEER_SECRET, shared
 * by the nodes) checked from the CONNECT packet, and presence per room, kept where every node sees
 * it: a Redis hash per room (socket id -> user). A join is emitted to the room and the joiner gets
 * the room's user list; a disconnect emits `left`.
 *
 * Connection-state recovery is on, as issue 17 asks. The Redis adapter does not implement it
 * (socket.io's base Adapter keeps no sessions and tags no packets with offsets), and a node that is
 * killed could not save its sessions anyway: the bench reports what its clients get.
 *
 * A chat message gets an id from a counter per room on the node that receives it (there is no
 * shared sequence; the load checks each publisher's order instead) and is acked to its sender,
 * after the broadcast, when the sender asked for an acknowledgement; so is a join, once answered.
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { handleHttp, listenAddress, socketIoSignIn, type PeerUser } from './signin.js';

const url = process.env.REDIS_URL;
if (!url) {
  process.stderr.write('socketio-redis-server: REDIS_URL is required\n');
  process.exit(2);
}
const pub = new Redis(url);
const sub = pub.duplicate();
for (const client of [pub, sub]) client.on('error', (err: Error) => process.stderr.write(`redis: ${err.message}\n`));
await Promise.all([pub, sub].map((client) => new Promise((resolve) => client.once('ready', resolve))));

const lastId = new Map<string, number>();
const presenceKey = (room: string) => `presence:${room}`;
const server = createServer(handleHttp);
const io = new Server(server, {
  transports: ['websocket'],
  serveClient: false,
  maxHttpBufferSize: 64 * 1024,
  adapter: createAdapter(pub, sub),
  connectionStateRecovery: {},
});

io.use(socketIoSignIn);

io.on('connection', (socket) => {
  const user = socket.data.user as PeerUser;
  // Every event is acked when the client asks: socket.io-client's `retries` waits for an ack of each.
  socket.on('join', async (room: unknown, ack?: unknown) => {
    const done = () => typeof ack === 'function' && (ack as () => void)();
    if (typeof room !== 'string' || socket.rooms.has(room)) return done();
    await socket.join(room);
    const replies = await pub.multi().hset(presenceKey(room), socket.id, JSON.stringify(user)).hvals(presenceKey(room)).exec();
    const users = (replies?.[1]?.[1] ?? []) as string[];
    io.to(room).emit('join', { type: 'join', room, user });
    socket.emit('list', { type: 'list', room, data: users.map((u) => JSON.parse(u) as PeerUser) });
    done();
  });
  socket.on('disconnecting', () => {
    for (const room of socket.rooms) {
      if (room === socket.id) continue;
      void pub.hdel(presenceKey(room), socket.id);
      socket.to(room).emit('left', { type: 'left', room, user });
    }
  });
  socket.on('chat', (msg: { room?: unknown; data?: unknown }, ack?: unknown) => {
    if (typeof msg?.room !== 'string' || typeof msg.data !== 'string') return;
    const id = (lastId.get(msg.room) ?? 0) + 1;
    lastId.set(msg.room, id);
    io.to(msg.room).emit('chat', { type: 'chat', room: msg.room, id, user, data: msg.data, ts: Date.now() });
    if (typeof ack === 'function') (ack as () => void)();
  });
});

const { port, host } = listenAddress();
server.listen(port, host);
process.on('SIGTERM', () => process.exit(0));
