/** How a refused input is told to a person: the field, and what it must be, in the house's words. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { checkInput, describeIssues } from '../../src/issues.js';

/** What a person is told about `value` checked against `schema`. */
function told(schema: z.ZodType, value: unknown, subject?: string): string {
  const result = checkInput(schema, value);
  assert.ok(!result.success, `${JSON.stringify(value)} is refused`);
  return describeIssues(result.error, 3, subject);
}

describe('the words for a refused input', () => {
  const body = z.object({
    name: z.string(),
    count: z.number().int().min(1).max(100).optional(),
    ratio: z.number().gt(0).lt(1).optional(),
    on: z.boolean().optional(),
    tags: z.array(z.string()).max(2).optional(),
    kind: z.enum(['a', 'b']).optional(),
    fixed: z.literal('yes').optional(),
    cid: z.string().min(1).max(4).optional(),
    code: z.string().min(3).optional(),
    user: z.union([z.number(), z.string()]).optional(),
    nested: z.object({ deep: z.string() }).optional(),
  });

  it('names the field and the type it must be, or says it is missing', () => {
    assert.equal(told(body, { name: 5 }), 'name must be a string');
    assert.equal(told(body, {}), 'name is missing');
    assert.equal(told(body, { name: 'x', on: 'yes' }), 'on must be true or false');
    assert.equal(told(body, { name: 'x', count: 1.5 }), 'count must be a whole number');
    assert.equal(told(body, { name: 'x', count: '3' }), 'count must be a number');
    assert.equal(told(body, { name: 'x', tags: 'a' }), 'tags must be an array');
    assert.equal(told(body, { name: 'x', nested: { deep: 1 } }), 'nested.deep must be a string');
    assert.equal(told(body, { name: 'x', user: true }), 'user must be a number or a string');
  });

  it('says the bounds of numbers, texts and lists, and the values allowed', () => {
    assert.equal(told(body, { name: 'x', count: 0 }), 'count must be at least 1');
    assert.equal(told(body, { name: 'x', count: 101 }), 'count must be at most 100');
    assert.equal(told(body, { name: 'x', ratio: 0 }), 'ratio must be more than 0');
    assert.equal(told(body, { name: 'x', ratio: 1 }), 'ratio must be less than 1');
    assert.equal(told(body, { name: 'x', cid: '' }), 'cid must not be empty');
    assert.equal(told(body, { name: 'x', cid: 'abcde' }), 'cid must be at most 4 characters');
    assert.equal(told(body, { name: 'x', code: 'ab' }), 'code must be at least 3 characters');
    assert.equal(told(body, { name: 'x', tags: ['a', 'b', 'c'] }), 'tags must have at most 2 items');
    assert.equal(told(body, { name: 'x', kind: 'c' }), 'kind must be one of a, b');
    assert.equal(told(body, { name: 'x', fixed: 'no' }), 'fixed must be yes');
  });

  it('says which values a discriminated union takes, and speaks of the whole input by its subject', () => {
    const frame = z.discriminatedUnion('type', [z.object({ type: z.literal('join') }), z.object({ type: z.literal('leave') })]);
    assert.equal(told(frame, { type: 'shout' }), 'type must be one of join, leave');
    assert.equal(told(frame, 5, 'frame'), 'frame must be an object');
    assert.equal(told(z.object({ a: z.string() }).strict(), { a: 'x', b: 1 }), 'input has a field it does not take: b');
  });

  it("keeps a schema's own message, naming the field once, and lists up to three problems", () => {
    const own = z.object({
      name: z.string().min(1, 'name must not be empty'),
      data: z.string().min(1, 'must not be empty'),
      limit: z.number().max(5, 'is more than 5'),
      ok: z.string().refine((s) => s === 'ok', 'should say ok'),
    });
    assert.equal(told(own, { name: '', data: 'x', limit: 1, ok: 'ok' }), 'name must not be empty');
    assert.equal(told(own, { name: 'a', data: '', limit: 9, ok: 'no' }), 'data must not be empty; limit is more than 5; ok: should say ok');
    assert.equal(told(own, { name: 1, data: 1, limit: 'x', ok: 1 }).split('; ').length, 3);
  });
});
