// ws exports its frame encoder (WebSocket.Sender) but @types/ws does not declare it.
import 'ws';

declare module 'ws' {
  export class Sender {
    static frame(
      data: Buffer,
      options: { fin: boolean; opcode: number; mask: boolean; readOnly: boolean; rsv1: boolean },
    ): Buffer[];
  }
}
