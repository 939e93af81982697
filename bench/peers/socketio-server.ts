/**
 * Peer 2: socket.io 4 as its documentation shows a chat room: `socket.join(room)` and
 * `io.to(room).emit('chat', message)` (the adapter encodes the packet once per broadcast),
 * WebSocket transport only, default heartbeat (pingInterval 25 s). Sign-in is the same signed
 * token as the ws peer, checked by a connection middleware from the CONNECT packet's `auth`.
 * Presence as in the seeds' chat, per room: a join is emitted to the room and the joiner gets the
 * room's user list (kept in a map, as chat examples for socket.io do); a disconnect emits `left`.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { handleHttp, listenAddress, socketIoSignIn, type PeerUser } from './signin.js';

const lastId = new Map<string, number>();
/** room -> socket id -> user */
const present = new Map<string, Map<string, PeerUser>>();
const server = createServer(handleHttp);
const io = new Server(server, { transports: ['websocket'], serveClient: false, maxHttpBufferSize: 64 * 1024 });

io.use(socketIoSignIn);

io.on('connection', (socket) => {
  const user = socket.data.user as PeerUser;
  socket.on('join', (room: unknown) => {
    if (typeof room !== 'string') return;
    let users = present.get(room);
    if (!users) present.set(room, (users = new Map()));
    if (users.has(socket.id)) return;
    users.set(socket.id, user);
    void socket.join(room);
    io.to(room).emit('join', { type: 'join', room, user });
    socket.emit('list', { type: 'list', room, data: [...users.values()] });
  });
  socket.on('disconnecting', () => {
    for (const room of socket.rooms) {
      if (!present.get(room)?.delete(socket.id)) continue;
      socket.to(room).emit('left', { type: 'left', room, user });
    }
  });
  socket.on('chat', (msg: { room?: unknown; data?: unknown }) => {
    if (typeof msg?.room !== 'string' || typeof msg.data !== 'string') return;
    const id = (lastId.get(msg.room) ?? 0) + 1;
    lastId.set(msg.room, id);
    io.to(msg.room).emit('chat', { type: 'chat', room: msg.room, id, user, data: msg.data, ts: Date.now() });
  });
});

const { port, host } = listenAddress();
server.listen(port, host);
process.on('SIGTERM', () => process.exit(0));
