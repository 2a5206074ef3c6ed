/* pgslides "Try it": the module Worker that runs PostgreSQL (PGlite, compiled to WebAssembly)
   for the reader's edits of a deck's SQL blocks.

   Why a worker: PostgreSQL's WebAssembly runs synchronously while a statement runs, so on the
   page an endless query would freeze the tab; here the page can terminate it (pgslides-try.js
   stops a Run after 15 s). The worker is created on the first click only.

   Why shaped so: every Run must start from the state its block saw at build time, so no Run
   depends on another. Booting PostgreSQL (initdb) takes seconds, so the worker keeps, once:
     - the compiled wasm modules and the file-system bundle (nothing is fetched twice),
     - a dump of the data directory right after initdb ("pristine"),
     - per deck, a dump after the deck's settings and setup files, when a dump can hold that
       state (see setupDumpable); otherwise setup is re-run on each new instance.
   A Run then = new PGlite from the deck's dump, the pinned settings, the replay of every
   earlier block's statements, the edited SQL, close. To make the next Run of the same block
   quick, the worker prepares one spare instance in the background, replayed to that block,
   while the reader edits: the spare is exactly what a Run would build, so no dump of session
   state is ever trusted (a dump would lose SET, temporary tables, prepared statements...).
   Dumps are taken after a CHECKPOINT: a restored data directory goes through crash recovery,
   which without one makes sequences jump ahead by up to 32.

   The worker also splits the edited SQL into statements (Splitter, a port of the build's
   splitter), so the page script stays small.

   Messages: the page posts {id, op, args}; the worker answers {id, result} or {id, error},
   and {id, progress: {phase, ...}} meanwhile. {keep: {...}} hands the page what it should
   give a replacement worker (after a stopped Run) so that nothing is fetched or booted again.
*/
"use strict";

const MAX_NOTICES = 100; // notices kept per statement, as the build keeps them
const MAX_VALUE_CHARS = 2000; // characters of a value or message kept, as the build keeps them
const FROM_STDIN_PROBLEM =
  "COPY ... FROM STDIN needs data from the client, which a live block cannot send; " +
  "use INSERT ... VALUES, or COPY FROM a file on the server";

/* ---- Splitter: a port of the build's run/statements.py and run/psqllex.py (psql 18's
   lexer where it moves a statement boundary), standard_conforming_strings on. ---- */
const Splitter = {
  SPACE: " \t\n\r\f",
  ROUTINE_WORDS: new Map([["create", "c"], ["or", "o"], ["replace", "r"], ["function", "f"], ["procedure", "p"]]),
  COPY: /^\s*(?:--[^\n]*\n\s*|\/\*.*?\*\/\s*)*copy\b/is,
  FROM_STDIN: /\bfrom\s+stdin\b/i,

  /* The statements' texts, each as psql sends it: from its first character that is not
     whitespace nor in a -- comment, through its semicolon. Throws on a psql meta-command. */
  split(sql) {
    const texts = [];
    let cur = this.statement();
    let i = 0;
    const span = (end) => {
      if (cur.start === null || !cur.content) return;
      if (end === undefined) end = cur.start + sql.slice(cur.start).replace(/[\r\n]+$/, "").length;
      texts.push(sql.slice(cur.start, end));
    };
    while (i < sql.length) {
      const c = sql[i];
      if (this.SPACE.includes(c)) { i += 1; continue; }
      if (sql.startsWith("--", i)) { i = this.lineEnd(sql, i); continue; }
      if (c === ";" && cur.paren === 0 && cur.begin === 0) {
        span(i + 1);
        cur = this.statement();
        i += 1;
        continue;
      }
      if (cur.start === null) cur.start = i;
      if (sql.startsWith("/*", i)) {
        const [end, closed] = this.commentEnd(sql, i);
        cur.content = cur.content || !closed; // unclosed: sent, so the server says so
        i = end;
        continue;
      }
      cur.content = true;
      if (c === "\\") throw new Error(this.metaMessage(this.metaCommand(sql, i)));
      if (c === "(") { cur.paren += 1; i += 1; }
      else if (c === ")") { cur.paren = Math.max(cur.paren - 1, 0); i += 1; }
      else i = this.tokenEnd(sql, i, cur);
    }
    span();
    return texts;
  },
  statement() {
    return { start: null, content: false, paren: 0, begin: 0, words: [] };
  },
  isLetter: (c) => c !== undefined && (/[A-Za-z_]/.test(c) || c > "\x7f"),
  isDigit: (c) => c !== undefined && c >= "0" && c <= "9",
  tokenEnd(sql, i, cur) {
    const c = sql[i], after = sql[i + 1];
    const opening = this.stringOpening(sql, i);
    if (opening) return this.quotedEnd(sql, ...opening);
    if ((c === "u" || c === "U") && after === "&") return i + 1;
    if (this.isLetter(c)) {
      const end = this.wordEnd(sql, i + 1, true);
      this.noteWord(cur, sql.slice(i, end));
      return end;
    }
    if (c === "$") return this.dollarEnd(sql, i);
    if (this.isDigit(c) || (c === "." && this.isDigit(after))) return this.numberEnd(sql, i);
    if (c === ":" && after === ":") return i + 2; // a cast
    let end = i + 1;
    if (c === ":") while (this.isLetter(sql[end]) || this.isDigit(sql[end])) end += 1; // :var
    return end;
  },
  /* CREATE [OR REPLACE] FUNCTION|PROCEDURE ... BEGIN ATOMIC ... END: its ; do not end it. */
  noteWord(cur, word) {
    if (/^[\x00-\x7f]*$/.test(word)) word = word.toLowerCase();
    if (cur.words.length < 4) cur.words.push(this.ROUTINE_WORDS.get(word) || "");
    const w = [...cur.words, "", "", ""];
    const routine = w[0] === "c" && (w[1] === "f" || w[1] === "p" ||
      (w[1] === "o" && w[2] === "r" && (w[3] === "f" || w[3] === "p")));
    if (cur.paren > 0 || !routine) return;
    if (word === "begin" || (word === "case" && cur.begin > 0)) cur.begin += 1;
    else if (word === "end" && cur.begin > 0) cur.begin -= 1;
  },
  /* [body start, quote, backslash escapes] for a string or quoted identifier at i. */
  stringOpening(sql, i) {
    const c = sql[i], after = sql[i + 1];
    if (c === "'" || c === '"') return [i + 1, c, false];
    if (after === "'" && "eEnNbBxX".includes(c)) return [i + 2, "'", c === "e" || c === "E"];
    if ((c === "u" || c === "U") && after === "&" && (sql[i + 2] === "'" || sql[i + 2] === '"')) {
      return [i + 3, sql[i + 2], false];
    }
    return null;
  },
  quotedEnd(sql, i, quote, escapes) {
    while (i < sql.length) {
      const c = sql[i];
      if (escapes && c === "\\") i += 2;
      else if (c !== quote) i += 1;
      else if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    }
    return sql.length;
  },
  wordEnd(sql, i, dollar) {
    while (this.isLetter(sql[i]) || this.isDigit(sql[i]) || (dollar && sql[i] === "$")) i += 1;
    return i;
  },
  lineEnd(sql, i) {
    while (i < sql.length && sql[i] !== "\n" && sql[i] !== "\r") i += 1;
    return i;
  },
  commentEnd(sql, i) {
    let depth = 0;
    for (i += 2; i < sql.length;) {
      if (sql.startsWith("/*", i)) { depth += 1; i += 2; }
      else if (sql.startsWith("*/", i)) {
        if (depth === 0) return [i + 2, true];
        depth -= 1;
        i += 2;
      } else i += 1;
    }
    return [sql.length, false];
  },
  /* A dollar quote ($$ or $tag$), a parameter ($1), or a lone $. */
  dollarEnd(sql, i) {
    let j = i + 1;
    if (this.isDigit(sql[j])) {
      while (this.isDigit(sql[j])) j += 1;
      return this.isLetter(sql[j]) ? this.wordEnd(sql, j, true) : j;
    }
    if (this.isLetter(sql[j])) j = this.wordEnd(sql, j, false);
    if (sql[j] !== "$") return i + 1;
    const close = sql.indexOf(sql.slice(i, j + 1), j + 1);
    return close < 0 ? sql.length : close + (j + 1 - i);
  },
  /* A number, with the junk psql glues to it (1e- takes its sign; 1_0$a$ is one token). */
  numberEnd(sql, i) {
    let j = this.digitsEnd(sql, i);
    if (sql[j] === "." && sql[j + 1] !== ".") j = this.digitsEnd(sql, j + 1);
    if (sql[j] === "e" || sql[j] === "E") {
      let k = j + 1;
      const signed = sql[k] === "+" || sql[k] === "-";
      if (signed) k += 1;
      if (this.isDigit(sql[k])) j = this.digitsEnd(sql, k);
      else if (signed) return k;
    }
    if (this.isLetter(sql[j])) j = this.wordEnd(sql, j, true);
    const underscore = sql.lastIndexOf("_", j - 1);
    return underscore < i ? j : Math.max(j, this.wordEnd(sql, underscore, true));
  },
  digitsEnd(sql, i) {
    while (this.isDigit(sql[i])) {
      i += 1;
      if (sql[i] === "_" && this.isDigit(sql[i + 1])) i += 1;
    }
    return i;
  },
  metaCommand(sql, i) {
    if (sql[i + 1] === ";" || sql[i + 1] === ":") return sql.slice(i, i + 2);
    let j = i + 1;
    while (j < sql.length && !this.SPACE.includes(sql[j]) && sql[j] !== "\\") j += 1;
    return sql.slice(i, j);
  },
  metaMessage(command) {
    if (command === "\\;" || command === "\\:") {
      return `psql's ${command} escape is not SQL and cannot run here; write a plain ${command[1]} instead`;
    }
    return `psql meta-command ${command} is not SQL and cannot run here; remove it`;
  },
  copyFromStdin(text) {
    return this.COPY.test(text) && this.FROM_STDIN.test(text);
  },
};

let lib = null; // the PGlite module
let assets = null; // {pgliteWasmModule, initdbWasmModule, fsBundle}
let pristine = null; // Blob: the data directory just after initdb
let version = "";
let warm = null; // the initdb'd instance, still open, for the first deck's setup
const decks = new Map(); // deck -> {settings, setup, ready: Promise<Blob|null>}
let spare = null; // {key, db: Promise<PGlite>, listen}

self.onmessage = async (event) => {
  const { id, op, args } = event.data;
  const progress = (phase, extra) => self.postMessage({ id, progress: { phase, ...extra } });
  try {
    self.postMessage({ id, result: await OPS[op](args, progress, id) });
  } catch (error) {
    self.postMessage({ id, error: (error && error.message) || String(error) });
  }
};

const OPS = {
  /* Load PGlite and boot PostgreSQL once: import, compile, initdb, pristine dump. */
  async boot({ base, keep }, progress) {
    if (lib) return { version };
    progress("load");
    const url = (path) => new URL(path, base).href;
    try {
      lib = await import(url("pglite/index.js"));
    } catch (error) {
      throw new Error(`could not load pglite/index.js (${error.message})`);
    }
    if (keep.assets) {
      assets = keep.assets;
    } else {
      const [pgliteWasmModule, initdbWasmModule, fsBundle] = await Promise.all([
        compile(url("pglite/pglite.wasm"), "pglite/pglite.wasm"),
        compile(url("pglite/initdb.wasm"), "pglite/initdb.wasm"),
        fetchOk(url("pglite/pglite.data"), "pglite/pglite.data").then((r) => r.blob()),
      ]);
      assets = { pgliteWasmModule, initdbWasmModule, fsBundle };
      self.postMessage({ keep: { assets } });
    }
    if (keep.pristine) {
      pristine = keep.pristine;
      version = keep.version;
    } else {
      progress("initdb");
      const db = await lib.PGlite.create({ ...assets });
      version = await scalar(db, "SHOW server_version");
      await query(db, "CHECKPOINT");
      pristine = await db.dumpDataDir("none");
      warm = db;
      self.postMessage({ keep: { pristine, version } });
    }
    return { version };
  },

  /* Learn a deck and build its setup dump (or learn that it cannot have one). */
  async deck({ deck, settings, setup, dump }, progress) {
    let entry = decks.get(deck);
    if (!entry) {
      entry = { settings, setup, ready: dump !== undefined ? Promise.resolve(dump) : null };
      entry.ready = entry.ready || setupDump(deck, entry, progress);
      decks.set(deck, entry);
      entry.ready.catch(() => decks.delete(deck));
    }
    await entry.ready;
    return true;
  },

  /* Build, in the background, the instance the next Run of this block will use. */
  async prepare({ deck, key, replay }) {
    prepareSpare(deck, key, replay);
    return true;
  },

  /* One Run: a fresh instance at the block's build-time state, the edited SQL, close.
     SQL that cannot run at all comes back as {refused: why}, as the build refuses it. */
  async run({ deck, key, replay, sql: text, keep }, progress, id) {
    let statements;
    try {
      statements = Splitter.split(text);
    } catch (error) {
      return { refused: error.message };
    }
    if (!statements.length) return { refused: "There is no SQL statement here to run." };
    if (statements.some((s) => Splitter.copyFromStdin(s))) return { refused: FROM_STDIN_PROBLEM };
    const db = await takeInstance(deck, key, replay, progress);
    progress("sql", { statements });
    const outcomes = [];
    const started = performance.now();
    let failed = false;
    try {
      for (const [index, sql] of statements.entries()) {
        const outcome = failed ? { sql, ran: false } : await execute(db, sql, keep);
        failed = failed || Boolean(outcome.error);
        outcomes.push(outcome);
        self.postMessage({ id, progress: { phase: "outcome", index, outcome } });
      }
    } finally {
      await db.close().catch(() => {});
    }
    const ms = performance.now() - started;
    prepareSpare(deck, key, replay); // the next Run of this block starts at once
    return { outcomes, ms };
  },

  /* The whole deck on one instance, block after block: [outcomes | null] per given block;
     a block's statements are its source split as a Run splits it, else its replay list. */
  async selfcheck({ deck, blocks }, progress) {
    const db = await fresh(deck, [], progress);
    const results = [];
    try {
      for (const block of blocks) {
        if (!block) {
          results.push(null);
          continue;
        }
        let statements = block.replay;
        try {
          if (block.sql !== null) statements = Splitter.split(block.sql);
        } catch {
          // a psql meta-command: the build refused the block too; its replay list is what ran
        }
        const outcomes = [];
        let failed = false;
        for (const sql of statements) {
          const outcome = failed ? { sql, ran: false } : await execute(db, sql, block.keep);
          failed = failed || Boolean(outcome.error);
          outcomes.push(outcome);
        }
        results.push(outcomes);
      }
    } finally {
      await db.close().catch(() => {});
    }
    return results;
  },
};

async function fetchOk(href, name) {
  let response;
  try {
    response = await fetch(href);
  } catch (error) {
    throw new Error(`could not fetch ${name} (${error.message})`);
  }
  if (!response.ok) throw new Error(`could not fetch ${name} (HTTP ${response.status})`);
  return response;
}

async function compile(href, name) {
  const response = await fetchOk(href, name);
  // Streaming compilation needs the server to say application/wasm; not every server does.
  if ((response.headers.get("Content-Type") || "").startsWith("application/wasm")) {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}

function create(dataDir) {
  return lib.PGlite.create({ ...assets, loadDataDir: dataDir });
}

/* One statement as one simple Query message (the server sees exactly this text), its answer
   read as it streams out of PGlite: `keep` rows kept, the rest only counted. */
async function query(db, sql, keep = 0) {
  const reader = new Reader(sql, keep);
  const bytes = lib.protocol.serialize.query(sql);
  let failure = null; // never thrown into PostgreSQL's own code, which is calling back
  const onRawData = (chunk) => {
    try {
      if (!failure) reader.feed(chunk);
    } catch (error) {
      failure = error;
    }
  };
  await db.execProtocolRawStream(bytes, { onRawData });
  if (failure) throw failure;
  return reader.finish();
}

/* Hidden statements (settings, setup, replay): errors are expected sometimes and ignored, as
   at build time; a COPY FROM STDIN would wait for data forever, and is skipped (the build
   refuses it too). Returns the transaction status after the last one. */
async function runHidden(db, statements, job = {}) {
  let status = "I";
  for (const sql of statements) {
    if (job.dropped) throw new Error("dropped");
    if (Splitter.copyFromStdin(sql)) continue;
    status = (await query(db, sql)).ready || status;
  }
  return status;
}

const SESSION_STATE = `SELECT coalesce(string_agg(name || '=' || setting, ',' ORDER BY name), '')
  || ';' || current_user || ';' || session_user FROM pg_settings WHERE source = 'session'`;

/* Whether a data-directory dump holds all the state the setup left: no open transaction, no
   unlogged table (crash recovery empties those), and no session state a dump would lose
   (settings beyond the pinned ones, temporary tables, prepared statements, cursors, LISTEN,
   advisory locks). */
async function setupDumpable(db, status, before) {
  if (status !== "I") return false;
  const after = await scalar(db, SESSION_STATE);
  const clean = await scalar(db, `SELECT NOT EXISTS (SELECT FROM pg_class WHERE relpersistence IN ('u', 't'))
    AND NOT EXISTS (SELECT FROM pg_prepared_statements) AND NOT EXISTS (SELECT FROM pg_cursors)
    AND NOT EXISTS (SELECT FROM pg_listening_channels())
    AND NOT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())`);
  return after === before && clean === "t";
}

async function scalar(db, sql) {
  const { rows } = await query(db, sql, 1);
  return rows.length ? rows[0][0] : null;
}

async function setupDump(deck, entry, progress) {
  progress("setup");
  const db = warm || (await create(pristine));
  warm = null;
  try {
    await runHidden(db, entry.settings);
    const before = await scalar(db, SESSION_STATE);
    const status = await runHidden(db, entry.setup);
    if (!(await setupDumpable(db, status, before))) return null;
    await query(db, "CHECKPOINT");
    const dump = await db.dumpDataDir("none");
    self.postMessage({ keep: { deck, dump } });
    return dump;
  } finally {
    await db.close().catch(() => {});
  }
}

/* A new instance at the state the block saw at build time (before its own statements).
   A spare no longer wanted (job.dropped) stops between statements, leaving the CPU to the Run. */
async function fresh(deck, replay, progress, job = {}) {
  const entry = decks.get(deck);
  if (!entry) throw new Error(`deck ${deck} is not loaded`);
  const dump = await entry.ready;
  const db = await create(dump || pristine);
  try {
    await runHidden(db, entry.settings, job);
    if (!dump) await runHidden(db, entry.setup, job);
    if (replay.length) {
      progress("replay");
      await runHidden(db, replay, job);
    }
    return db;
  } catch (error) {
    await db.close().catch(() => {});
    throw error;
  }
}

function prepareSpare(deck, key, replay) {
  if (spare && spare.key === key) return;
  dropSpare();
  const entry = { key, listen: null };
  entry.db = fresh(deck, replay, (phase, extra) => entry.listen && entry.listen(phase, extra), entry);
  entry.db.catch(() => {
    if (spare === entry) spare = null;
  });
  spare = entry;
}

function dropSpare() {
  if (!spare) return;
  spare.dropped = true;
  spare.db.then((db) => db.close()).catch(() => {});
  spare = null;
}

async function takeInstance(deck, key, replay, progress) {
  if (spare && spare.key === key) {
    const entry = spare;
    spare = null;
    entry.listen = progress;
    try {
      return await entry.db;
    } catch {
      // the spare failed to build: try once more, in the open, so its error is seen
    }
  }
  dropSpare();
  return fresh(deck, replay, progress);
}

function cut(value) {
  if (value == null || value.length <= MAX_VALUE_CHARS) return value ?? null;
  const chars = Array.from(value); // Python counts code points, as the build does
  if (chars.length <= MAX_VALUE_CHARS) return value;
  return `${chars.slice(0, MAX_VALUE_CHARS).join("")}… (${chars.length - MAX_VALUE_CHARS} more characters)`;
}

/* The backend's messages for one query, parsed as PGlite writes them (in chunks of any size),
   kept as the build keeps them (run/rows.py): the first `keep` rows as text, the count of all,
   the tag, the first notices, the first error (and then no rows), COPY TO STDOUT's lines. */
class Reader {
  constructor(sql, keep) {
    this.keep = keep;
    this.chunks = []; // the start of a message not complete yet
    this.length = 0;
    this.text = new TextDecoder();
    this.copyText = new TextDecoder();
    this.copy = null;
    this.out = {
      sql, ran: true, status: null, columns: null, rows: [], rowCount: 0,
      notices: [], moreNotices: 0, error: null, copy: null, copyMore: 0, ready: null,
    };
  }
  feed(chunk) {
    // The chunk may be a view of PostgreSQL's memory: what waits for more is copied.
    this.chunks.push(this.chunks.length ? chunk.slice() : chunk);
    this.length += chunk.length;
    if (this.length < 5) return this.save();
    const head = this.chunks[0].length >= 5 ? this.chunks[0] : this.joined();
    if (this.length < 1 + new DataView(head.buffer, head.byteOffset).getInt32(1)) return this.save();
    const buf = this.joined();
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let at = 0;
    while (buf.length - at >= 5) {
      const end = at + 1 + view.getInt32(at + 1);
      if (end > buf.length) break;
      this.message(buf[at], buf, view, at + 5, end);
      at = end;
    }
    this.chunks = at < buf.length ? [buf.slice(at)] : [];
    this.length = buf.length - at;
  }
  save() {
    this.chunks[0] = this.chunks[0].slice();
  }
  joined() {
    if (this.chunks.length === 1) return this.chunks[0];
    const buf = new Uint8Array(this.length);
    let at = 0;
    for (const chunk of this.chunks) {
      buf.set(chunk, at);
      at += chunk.length;
    }
    this.chunks = [buf];
    return buf;
  }
  message(type, buf, view, at, end) {
    const out = this.out;
    const cstring = () => {
      const zero = buf.indexOf(0, at);
      const value = this.text.decode(buf.subarray(at, zero));
      at = zero + 1;
      return value;
    };
    switch (String.fromCharCode(type)) {
      case "T": { // RowDescription: name, table, column, type, size, modifier, format
        const count = view.getInt16(at);
        at += 2;
        out.columns = [];
        for (let i = 0; i < count; i += 1) {
          const name = cstring();
          out.columns.push({ name, oid: view.getUint32(at + 6) });
          at += 18;
        }
        out.rows = [];
        out.rowCount = 0;
        break;
      }
      case "D": // DataRow
        if (out.rows.length < this.keep) {
          const row = [];
          const count = view.getInt16(at);
          at += 2;
          for (let i = 0; i < count; i += 1) {
            const size = view.getInt32(at);
            at += 4;
            row.push(size < 0 ? null : cut(this.text.decode(buf.subarray(at, at + size))));
            at += Math.max(size, 0);
          }
          out.rows.push(row);
        }
        out.rowCount += 1;
        break;
      case "C": // CommandComplete
        out.status = cstring();
        break;
      case "H": // CopyOutResponse
        this.copy = { lines: [], count: 0, partial: "" };
        out.columns = null;
        break;
      case "d": { // CopyData
        const copy = this.copy;
        if (copy.lines.length >= this.keep) { // enough kept: only count the lines
          for (let i = buf.indexOf(10, at); i >= 0 && i < end; i = buf.indexOf(10, i + 1)) copy.count += 1;
          break;
        }
        const pieces = (copy.partial + this.copyText.decode(buf.subarray(at, end), { stream: true })).split("\n");
        copy.partial = pieces.pop();
        for (const line of pieces) {
          if (copy.lines.length < this.keep) copy.lines.push(line);
          copy.count += 1;
        }
        break;
      }
      case "N": // NoticeResponse
        if (out.notices.length < MAX_NOTICES) out.notices.push(this.diagnostic(cstring));
        else out.moreNotices += 1;
        break;
      case "E": // ErrorResponse: the first is the statement's, as psql shows it
        if (!out.error) out.error = this.diagnostic(cstring);
        break;
      case "Z": // ReadyForQuery: I idle, T in a transaction, E in a failed one
        out.ready = String.fromCharCode(buf[at]);
        break;
    }
  }
  diagnostic(cstring) {
    const f = {};
    for (let code = cstring(); code; code = cstring()) f[code[0]] = code.slice(1);
    const position = parseInt(f.P, 10);
    const internalPosition = parseInt(f.p, 10);
    return {
      severity: f.V || f.S || "ERROR", code: f.C || "", message: cut(f.M || ""),
      detail: cut(f.D), hint: cut(f.H), where: cut(f.W), internalQuery: cut(f.q),
      position: position > 0 ? position : null,
      // past the part of the query that is kept, no LINE excerpt can point there
      internalPosition: internalPosition > 0 && internalPosition <= MAX_VALUE_CHARS ? internalPosition : null,
    };
  }
  finish() {
    const out = this.out;
    if (this.copy) {
      out.copy = cut(this.copy.lines.join("\n"));
      out.copyMore = this.copy.count - this.copy.lines.length;
    }
    if (out.error) {
      // psql shows a failed query's error and none of the rows that came before it.
      Object.assign(out, { columns: null, rows: [], rowCount: 0, status: null, copy: null });
    }
    return out;
  }
}

/* One statement of the reader's (or of a block, for selfCheck), as the build runs it. */
async function execute(db, sql, keep) {
  if (Splitter.copyFromStdin(sql)) {
    // it would wait forever for data this page cannot send (the build refuses it too)
    const { ready, ...outcome } = new Reader(sql, keep).finish();
    outcome.error = { severity: "ERROR", code: "0A000", message: FROM_STDIN_PROBLEM };
    return outcome;
  }
  const { ready, ...outcome } = await query(db, sql, keep);
  return outcome;
}
