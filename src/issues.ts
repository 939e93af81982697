/** How a failed check of input (zod) is told to whoever sent it, over HTTP or a WebSocket. */
import type { z } from 'zod';

type Issue = z.ZodError['issues'][number];

/**
 * One problem with the field it is about: "data: must not be empty". A message that already starts
 * with the field's name ("name must not be empty") is not prefixed again.
 */
export function describeIssue(issue: Issue): string {
  const field = issue.path.join('.');
  const last = String(issue.path[issue.path.length - 1] ?? '');
  return field === '' || issue.message.startsWith(`${last} `) ? issue.message : `${field}: ${issue.message}`;
}

/** The first few problems, "; "-separated. */
export function describeIssues(error: z.ZodError, max = 3): string {
  return error.issues.slice(0, max).map(describeIssue).join('; ');
}
