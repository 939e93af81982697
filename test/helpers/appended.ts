/** Results of appending plain messages, as tests of those read them: every one stored, as a message. */
import assert from 'node:assert/strict';
import type { AppendResult, StoredMessage, TimelineEntry } from '../../src/store/types.js';

export interface StoredChat {
  message: StoredMessage;
  duplicate: boolean;
}

/** The results, each checked to be a stored (or earlier) message rather than a refusal or an event. */
export function chats(results: AppendResult[]): StoredChat[] {
  return results.map((r) => {
    assert.ok(!r.refused, `refused: ${JSON.stringify(r.refused)}`);
    assert.equal(r.message.kind, undefined, 'a message, not an event');
    return { message: r.message as StoredMessage, duplicate: r.duplicate };
  });
}

/** Entries of a timeline that holds messages only, each checked to be a message. */
export function messagesOf(entries: TimelineEntry[]): StoredMessage[] {
  return entries.map((e) => {
    assert.equal(e.kind, undefined, `a message, not ${e.kind}`);
    return e as StoredMessage;
  });
}
