import assert from 'node:assert/strict';
import { it } from 'node:test';
import { compareNames } from '../../web/src/order.js';

it('lists names as a person sorts them: numbers by value, case and accents as the locale does', () => {
  const rooms = ['room-10', 'room-2', 'Room-3', 'room-1', 'week 10', 'week 9', 'éclair', 'eclair', 'zebra'];
  assert.deepEqual([...rooms].sort(compareNames), ['eclair', 'éclair', 'room-1', 'room-2', 'Room-3', 'room-10', 'week 9', 'week 10', 'zebra']);
});
