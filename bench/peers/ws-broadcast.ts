/**
 * Peer 1: the seeds' plain `ws` broadcast server, as a user would write it from the tutorials.
 * Each chat message becomes `createMessage(...)` (one JSON.stringify) and is sent to every member
 * with `client.send(text)`, one frame per receiver. Rooms are a Map room -> Set of sockets (the
 * seed loops over `wss.clients`; with one room that is the same loop). Presence as in the seed's
 * onConnect/onClose, per room: a join is broadcast to the room and the joiner gets the room's user
 * list; a close broadcasts `left`. Sign-in and the heartbeat are the usual ones: a signed token
 * checked at the upgrade, ping every HEARTBEAT_MS.
 */
import { createServer } from 'node:http';
import { WebSocketServer, WebSocket } from 'ws';
import { handleHttp, listenAddress, requestToken, verifyToken, type PeerUser } from './signin.js';

interface Member extends WebSocket {
  user: PeerUser;
  rooms: Set<string>;
  isAlive: boolean;
}

const heartbeatMs = Number(process.env.HEARTBEAT_MS ?? 30_000);
const rooms = new Map<string, Set<Member>>();
const lastId = new Map<string, number>();

const server = createServer(handleHttp);
const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

server.on('upgrade', (req, socket, head) => {
  const path = (req.url ?? '/').split('?')[0];
  const user = verifyToken(requestToken(req));
  if (path !== '/ws/chat' || !user) {
    socket.end(`HTTP/1.1 ${path !== '/ws/chat' ? '404 Not Found' : '401 Unauthorized'}\r\nConnection: close\r\n\r\n`);
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    const member = ws as Member;
    member.user = user;
    member.rooms = new Set();
    member.isAlive = true;
    wss.emit('connection', member, req);
  });
});

// The seed's message shape: {id, type, user, data}, plus room and ts like Parley's chat frame.
function createMessage(room: string, user: PeerUser, data: string): string {
  const id = (lastId.get(room) ?? 0) + 1;
  lastId.set(room, id);
  return JSON.stringify({ type: 'chat', room, id, user, data, ts: Date.now() });
}

wss.on('connection', (ws: Member) => {
  ws.on('pong', () => (ws.isAlive = true));
  ws.send(JSON.stringify({ type: 'welcome', user: ws.user }));
  ws.on('message', (raw) => {
    let msg: { type?: unknown; room?: unknown; data?: unknown };
    try {
      msg = JSON.parse(String(raw)) as typeof msg;
    } catch {
      return;
    }
    if (typeof msg.room !== 'string') return;
    if (msg.type === 'join') {
      let members = rooms.get(msg.room);
      if (!members) rooms.set(msg.room, (members = new Set()));
      if (members.has(ws)) return;
      members.add(ws);
      ws.rooms.add(msg.room);
      broadcast(members, JSON.stringify({ type: 'join', room: msg.room, user: ws.user }));
      ws.send(JSON.stringify({ type: 'list', room: msg.room, data: [...members].map((m) => m.user) }));
    } else if (msg.type === 'chat' && typeof msg.data === 'string') {
      broadcast(rooms.get(msg.room), createMessage(msg.room, ws.user, msg.data));
    }
  });
  ws.on('close', () => {
    for (const room of ws.rooms) {
      const members = rooms.get(room);
      if (!members) continue;
      members.delete(ws);
      broadcast(members, JSON.stringify({ type: 'left', room, user: ws.user }));
    }
  });
});

function broadcast(members: Set<Member> | undefined, text: string): void {
  for (const client of members ?? []) {
    if (client.readyState === WebSocket.OPEN) client.send(text);
  }
}

const heartbeat = setInterval(() => {
  for (const client of wss.clients as Set<Member>) {
    if (!client.isAlive) {
      client.terminate();
      continue;
    }
    client.isAlive = false;
    client.ping();
  }
}, heartbeatMs);
heartbeat.unref();

const { port, host } = listenAddress();
server.listen(port, host);
process.on('SIGTERM', () => process.exit(0));
