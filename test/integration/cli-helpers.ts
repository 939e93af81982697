/** Runs the `parley` CLI from the sources as a child process, as a user or a script would. */
import { execFileSync, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const cliArgs = ['--import', 'tsx', 'src/cli/main.ts'];

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `parley ARGS` (with `env` added to the environment), feeding `input` on stdin (then closing it); resolves when it exits. */
export function runCli(args: string[], input = '', timeoutMs = 30_000, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cliArgs, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`parley ${args.join(' ')} did not exit in ${timeoutMs} ms; stdout: ${stdout} stderr: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      // 'exit' may come before the last output; 'close' follows once the pipes are drained.
      child.on('close', () => resolve({ code, stdout, stderr }));
    });
    child.stdin.end(input);
  });
}

export type JsonEvent = { type: string; [key: string]: unknown };

/** `parley chat URL --json`: write lines to it, wait for the JSON events it prints. */
export class JsonChat {
  readonly events: JsonEvent[] = [];
  readonly child: ChildProcessWithoutNullStreams;
  stderr = '';
  #waiters = new Set<() => void>();
  readonly exited: Promise<number | null>;

  /** Runs `parley chat ARGS --json`, with `env` added to the environment. */
  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [...cliArgs, 'chat', ...args, '--json'], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d) => (this.stderr += d));
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.events.push(JSON.parse(line) as JsonEvent);
      this.#waiters.forEach((w) => w());
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** The first event (after `from`) that matches; rejects after a while with what was seen. */
  waitFor(match: (e: JsonEvent) => boolean, what: string, from = 0, timeoutMs = 20_000): Promise<JsonEvent> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.events.slice(from).find(match);
        if (found) {
          clearTimeout(timer);
          this.#waiters.delete(check);
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; events: ${JSON.stringify(this.events.slice(-10))}; stderr: ${this.stderr}`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  /** Closes stdin (the end of the script) and resolves the exit code. */
  async end(): Promise<number | null> {
    this.child.stdin.end();
    return this.exited;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** `parley chat URL` with lines piped in and out (no --json): what a person reads, line by line. */
export class PipedChat {
  readonly lines: string[] = [];
  readonly child: ChildProcessWithoutNullStreams;
  stderr = '';
  #waiters = new Set<() => void>();
  readonly exited: Promise<number | null>;
  /** Resolves once the last line of stdout has been read. */
  readonly #read: Promise<void>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [...cliArgs, 'chat', ...args], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d) => (this.stderr += d));
    const stdout = createInterface({ input: this.child.stdout });
    stdout.on('line', (line) => {
      this.lines.push(line);
      this.#waiters.forEach((w) => w());
    });
    this.#read = new Promise((resolve) => stdout.once('close', resolve));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Resolves the index of the first line (from `from` on) that matches; rejects after a while with what was seen. */
  waitFor(pattern: RegExp, what: string, from = 0, timeoutMs = 20_000): Promise<number> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.lines.findIndex((l, i) => i >= from && pattern.test(l));
        if (found >= 0) {
          clearTimeout(timer);
          this.#waiters.delete(check);
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; lines:\n${this.lines.join('\n')}\nstderr: ${this.stderr}`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }

  /** Closes stdin (the end of input) and resolves the exit code, once every line is read. */
  async end(): Promise<number | null> {
    this.child.stdin.end();
    const code = await this.exited;
    await this.#read;
    return code;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

export const hasTmux = spawnSync('tmux', ['-V']).status === 0;
let terminals = 0;

/** A command in a terminal of its own: a tmux session on a tmux server of its own (-L), never the user's. */
export class Terminal {
  readonly #socket: string[];
  readonly #name: string;
  /** Where record() writes the command's output. */
  readonly #recording: string;

  /** Runs `command` (the words of a command line) in the repository, in a terminal of `width` columns. */
  constructor(command: string[], { width = 120, height = 30 } = {}) {
    this.#name = `parley-test-${process.pid}-${++terminals}`;
    this.#socket = ['-L', this.#name];
    this.#recording = join(tmpdir(), `${this.#name}.out`);
    const line = command.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    this.#tmux('new-session', '-d', '-s', this.#name, '-x', String(width), '-y', String(height), '-c', repoRoot, line);
  }

  #tmux(...args: string[]): string {
    return execFileSync('tmux', [...this.#socket, ...args], { encoding: 'utf8' });
  }

  /** What the terminal shows now. */
  screen(): string {
    return this.#tmux('capture-pane', '-p', '-t', this.#name);
  }

  async waitFor(pattern: RegExp, what: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.screen())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${this.screen()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * From now on, every byte the command writes (control characters too, which the screen does not
   * show, such as the bell) goes to a file; the function returned reads what came so far.
   */
  record(): () => string {
    this.#tmux('pipe-pane', '-t', this.#name, `cat > '${this.#recording}'`);
    return () => (existsSync(this.#recording) ? readFileSync(this.#recording, 'utf8') : '');
  }

  /** Types: each argument is text or a key name such as `Enter` or `C-c`. */
  keys(...keys: string[]): void {
    this.#tmux('send-keys', '-t', this.#name, ...keys);
  }

  /** Resolves once the command has ended (its session is gone); rejects after `timeoutMs`. */
  async waitExit(what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (spawnSync('tmux', [...this.#socket, 'has-session', '-t', this.#name]).status === 0) {
      if (Date.now() > deadline) throw new Error(`${what} did not end; screen:\n${this.screen()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Ends the command (SIGHUP) and the tmux server. */
  close(): void {
    spawnSync('tmux', [...this.#socket, 'kill-server']);
    rmSync(this.#recording, { force: true });
    rmSync(join(process.env.TMUX_TMPDIR ?? tmpdir(), `tmux-${process.getuid?.() ?? 0}`, this.#name), { force: true });
  }
}
