/** The "How it is measured" section of the report. */
import { parleyCommandLine } from './servers.js';

export function methodText(): string {
  return `## How it is measured

- Each server runs in its own process, started by the bench: plain \`ws\` (\`bench/peers/ws-broadcast.ts\`:
  the seeds' broadcast loop, \`client.send(text)\` to each member of a room), socket.io 4
  (\`bench/peers/socketio-server.ts\`: \`socket.join(room)\`, \`io.to(room).emit(...)\`, WebSocket transport),
  and Parley as deployed (\`${parleyCommandLine}\`, as \`npm start\` and
  \`deploy/parley.service\` run it; the peers run with V8's defaults: with the same flag they were no
  faster in scenario 4, 2 runs each). The peers get the same sign-in (an HMAC-signed
  guest token checked at the upgrade), a heartbeat, and the seeds' presence per room (a join is sent to
  the room, the joiner gets the room's user list, a close sends \`left\`), so every server does comparable
  work per connection. Parley also stores every message before it goes out, and acks it.
- The load runs in another process (\`bench/load/\`). Its receivers read WebSocket frame headers only and
  take a chat frame's room sequence \`id\` from its bytes, without decoding or JSON-parsing the frame;
  its CPU is reported next to the server's, so one can see which side was the bottleneck.
- Server CPU is utime + stime of the server process from \`/proc/<pid>/stat\` over the measured window
  (100% = one core); memory is VmRSS from \`/proc/<pid>/status\`. Where a deployment is several processes,
  each is read with everything below it (PostgreSQL's backends, nginx's worker) and shown on its own
  row; "server CPU, all processes" is their sum.
- 1 · Fan-out: publishers outside the room keep a window of messages in flight end to end (they publish
  while fewer than window × receivers deliveries are outstanding). Delivered = chat frames received per
  second over the window, after a warm-up.
- 2 · Latency: one publisher at a fixed rate into the room; latency of every delivery = when the chunk
  holding it was read minus when the message was written (one process, one clock). A probe receiver also
  parses each frame and reads the send time written in the text.
- 3 · Idle: connections sign in (\`POST /api/guest\`) and upgrade, 100 at a time, then each joins a room of
  100; RSS growth / connections, read three times: 2 s after the burst settles (its garbage not yet
  collected), 35 s after it (idle: every server's heartbeat, 30 s for Parley and ws and 25 s for
  socket.io, has pinged each connection once, and V8 has had time to collect on its own; this is the
  figure the target is judged on), and then after a full GC of the server's main thread (forced
  through \`--inspect\`, which every server gets in this scenario; the GC is forced at the baseline
  too), which is what the connections keep. Connect rate = sign-in + upgrade + welcome.
- 4 · Many rooms: the first member of each room publishes and keeps a window of its own messages in flight;
  delivered = chat frames received by all members per second.
- One node on PostgreSQL + Redis (scenarios 1 and 4): one \`parley serve\` with \`DATABASE_URL\` and
  \`REDIS_URL\`, started by the cluster harness (\`test/helpers/cluster.ts\`) on a throw-away PostgreSQL
  (fsync on) and Redis from the system's packages, on free ports of 127.0.0.1.
- 5 and 6 · Two nodes: scenarios 1 and 4 with the same sizes, the clients connected straight to the
  nodes, half to each: the receivers and publishers of 5 in turn, and in 6 member k of room r on node
  (r + k) mod 2, so every room has members and its publisher spread over both. Parley: two nodes on one
  PostgreSQL and one Redis (the harness, as above). socket.io: two nodes of
  \`bench/peers/socketio-redis-server.ts\`: the peer above with \`@socket.io/redis-adapter\` on one Redis,
  presence in a Redis hash per room, connection-state recovery on. socket.io's nodes share no room
  sequence, so its receivers are checked by each publisher's order (the text of every message starts with
  its publisher and that publisher's count); Parley's by the room's ids.
- Parley's rows "messages per store append", "store append, mean ms" and "messages a node read from the
  store" come from its own \`/metrics\`, read on every node right before and after the window:
  \`parley_messages_stored_total\`, \`parley_store_seconds{method="appendMessages"}\` and
  \`parley_messages_caught_up_total\` (a node reads a message from the store when a later one reached it
  first, or never got its broadcast).
- 7 · A node's death: the clients are what an application uses: Parley's SDK (\`ParleyClient\` of
  \`src/client\`, its defaults: reconnect with backoff from 250 ms, rejoin with \`after\` and \`at\`,
  duplicates dropped, unacked sends sent again with their \`cid\`) and socket.io-client 4 (its defaults:
  reconnect with backoff from 1 s, ±50%; the join emitted again on each \`connect\`; \`retries: 3\` and
  \`ackTimeout: 5000\`, its at-least-once sending). They sign in and connect through nginx running
  \`deploy/nginx.conf\` (for socket.io its WebSocket location repeated for \`/socket.io/\`), which spreads them
  over both nodes, and join rooms of 100; two members of each room publish 2 messages a second each.
  After 3 s the load sends SIGKILL to node 2. Its clients are those whose connection that cut. For each:
  the time from the kill until it is connected again, and until it also has every message of its room
  that had been acked when it was connected again ("back and caught up"). Messages flow throughout; after
  every client is back (or 30 s) and 1 s more they stop, and the load waits for the last acks and
  deliveries. Lost = acked messages a member never got, duplicated = messages a member got twice, summed
  over all clients. CPU is read from the kill until the last client was back.
- Sign-ins come from many loopback addresses (25 per address), as real users do: Parley limits
  sign-ins per client IP, and that limit stays on.
- Delivery check (every scenario with messages, every server): each receiver got ids 1…n of its room
  (5 and 6 on socket.io: each publisher's messages 1…n), each exactly once and in order, where n is the
  number published (for Parley: acked). Scenario 7 checks Parley's promise (every acked message once, in
  order, to every client) and reports what socket.io's clients got.
`;
}
