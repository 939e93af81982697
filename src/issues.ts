/** How a failed check of input (zod) is told to whoever sent it, over HTTP or a WebSocket. */
import type { z } from 'zod';

type Issue = z.ZodError['issues'][number];
type RawIssue = z.core.$ZodRawIssue;

/** Type names as a person says them: "must be a string", "must be a whole number". */
const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  bigint: 'a whole number',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

const typeName = (expected: unknown) => TYPE_NAMES[String(expected)] ?? String(expected);
const quote = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
const plural = (n: number | bigint, unit: string) => `${n} ${unit}${n === 1 || n === 1n ? '' : 's'}`;
const UNITS: Record<string, string> = { string: 'character', array: 'item', set: 'item', map: 'entry', file: 'byte' };

/**
 * The house wording of a check that carries no message of its own, without the field's name, which
 * describeIssue puts in front: "must be a string", "is missing", "must be at most 100". Zod's own
 * ("Invalid input: expected string, received number") is for programmers. A schema's own message
 * still wins over this one.
 */
export function plainWording(issue: RawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'is missing' : `must be ${typeName(issue.expected)}`;
    case 'invalid_value':
      return issue.values.length === 1 ? `must be ${quote(issue.values[0])}` : `must be one of ${issue.values.map(quote).join(', ')}`;
    case 'too_small': {
      const unit = UNITS[issue.origin];
      if (unit === 'character' && Number(issue.minimum) === 1) return 'must not be empty';
      if (unit) return `must ${unit === 'character' ? 'be' : 'have'} at least ${plural(issue.minimum, unit)}`;
      return issue.inclusive === false ? `must be more than ${issue.minimum}` : `must be at least ${issue.minimum}`;
    }
    case 'too_big': {
      const unit = UNITS[issue.origin];
      if (unit) return `must ${unit === 'character' ? 'be' : 'have'} at most ${plural(issue.maximum, unit)}`;
      return issue.inclusive === false ? `must be less than ${issue.maximum}` : `must be at most ${issue.maximum}`;
    }
    case 'invalid_union': {
      // A discriminated union names the values its discriminator takes.
      const options: unknown = issue.options;
      if (Array.isArray(options) && options.length > 0) return `must be one of ${options.map(quote).join(', ')}`;
      // Each form refused the value for its type: name the types.
      const expected = issue.errors.map((branch) => branch.find((i) => i.code === 'invalid_type' && i.path.length === 0));
      if (expected.length > 0 && expected.every((i) => i?.code === 'invalid_type')) {
        return `must be ${expected.map((i) => typeName(i!.code === 'invalid_type' ? i!.expected : '')).join(' or ')}`;
      }
      return 'is not valid';
    }
    case 'invalid_format':
      if (issue.format === 'starts_with') return `must start with "${String(issue.prefix)}"`;
      if (issue.format === 'ends_with') return `must end with "${String(issue.suffix)}"`;
      if (issue.format === 'includes') return `must contain "${String(issue.includes)}"`;
      return issue.format === 'regex' ? 'is not in the expected form' : `must be a valid ${issue.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    case 'unrecognized_keys':
      return `has ${issue.keys.length === 1 ? 'a field it does not take' : 'fields it does not take'}: ${issue.keys.join(', ')}`;
    default:
      return 'is not valid';
  }
}

/** `schema.safeParse(value)`, with the house wording for checks that have no message of their own. */
export function checkInput<S extends z.ZodType>(schema: S, value: unknown): z.ZodSafeParseResult<z.output<S>> {
  return schema.safeParse(value, { error: plainWording }) as z.ZodSafeParseResult<z.output<S>>;
}

/**
 * One problem with the field it is about: "data must not be empty", "limit: 5 is too many" (a
 * message that is not a sentence about the field takes a colon). A message that already starts with
 * the field's name ("name must not be empty") is not prefixed again; a problem with the whole input
 * is said about `subject`.
 */
export function describeIssue(issue: Issue, subject = 'input'): string {
  const field = issue.path.join('.');
  const last = String(issue.path[issue.path.length - 1] ?? '');
  if (field !== '' && issue.message.startsWith(`${last} `)) return issue.message;
  const sentence = /^(must|is|has) /.test(issue.message);
  if (field === '') return sentence ? `${subject} ${issue.message}` : issue.message;
  return sentence ? `${field} ${issue.message}` : `${field}: ${issue.message}`;
}

/**
 * The first few problems, "; "-separated, one per field: a field's first problem is the one its
 * schema put first ("minutes must be at most 525600", not also the bound of safe integers).
 */
export function describeIssues(error: z.ZodError, max = 3, subject = 'input'): string {
  const seen = new Set<string>();
  const firstPerField = error.issues.filter((issue) => {
    const field = issue.path.join('.');
    if (seen.has(field)) return false;
    seen.add(field);
    return true;
  });
  return firstPerField.slice(0, max).map((issue) => describeIssue(issue, subject)).join('; ');
}
