/* pgslides "Try it": lets a reader edit a slide's SQL block and run it again, in their own
   browser, on PostgreSQL compiled to WebAssembly (PGlite, vendored under ./pglite/).

   Why shaped so: this classic script is on every deck page, so until the first click on a
   "Try it" button it only listens (one click handler): no fetch, no worker, no import. The
   first click starts the module worker (pgslides-try-worker.js), which fetches 16 MB once
   and boots PostgreSQL, and fetches the deck's replay file try/<deck>.json. Each Run starts
   from the state the block saw at build time (the worker explains how), so Runs never
   depend on each other.

   One object per concern (the splitter lives in the worker, with the SQL it splits):
     Renderer  - outcomes into the build's markup (render/templates/statement.html, table case)
     Engine    - the worker proxy: boot, deck files, Runs, the 15 s stop
     Panels    - the panel under each block: editor, Run, Reset, status, note, output
   Everything from the server or the reader is put in the page as text, never as HTML.
*/
(function () {
  "use strict";
  if (window.pgslidesTry) return; // loaded twice (instant navigation): one is enough

  const script = document.currentScript || document.querySelector('script[src*="pgslides-try.js"]');
  const BASE = new URL(".", script.src);
  const RUN_LIMIT_MS = 15000; // the reader's SQL
  const REPLAY_LIMIT_MS = 60000; // getting the block's state ready (replaying the earlier blocks)
  const NUMERIC_OIDS = new Set([20, 21, 23, 26, 28, 29, 700, 701, 790, 1700, 5069]);
  const TAG_AFTER_ROWS = new Set(["INSERT", "UPDATE", "DELETE", "MERGE"]);
  const FILE_MESSAGE =
    "Browsers run PostgreSQL in WebAssembly only for pages served over http(s): serve the " +
    "site, e.g. `python -m http.server` in the site folder, and open http://localhost:8000/ .";
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  /* ---- Renderer: outcomes as the build renders them (format=table). ---- */
  const Renderer = {
    // PostgreSQL 18's East Asian wide and fullwidth ranges (render/textwidth.py): 2 columns.
    WIDE: ("1100-115F 231A-231B 2329-232A 23E9-23EC 23F0 23F3 25FD-25FE 2614-2615 2630-2637 " +
      "2648-2653 267F 268A-268F 2693 26A1 26AA-26AB 26BD-26BE 26C4-26C5 26CE 26D4 26EA 26F2-26F3 " +
      "26F5 26FA 26FD 2705 270A-270B 2728 274C 274E 2753-2755 2757 2795-2797 27B0 27BF 2B1B-2B1C " +
      "2B50 2B55 2E80-2E99 2E9B-2EF3 2F00-2FD5 2FF0-303E 3041-3096 3099-30FF 3105-312F 3131-318E " +
      "3190-31E5 31EF-321E 3220-3247 3250-A48C A490-A4C6 A960-A97C AC00-D7A3 F900-FAFF FE10-FE19 " +
      "FE30-FE52 FE54-FE66 FE68-FE6B FF01-FF60 FFE0-FFE6 16FE0-16FE4 16FF0-16FF1 17000-187F7 " +
      "18800-18CD5 18CFF-18D08 1AFF0-1AFF3 1AFF5-1AFFB 1AFFD-1AFFE 1B000-1B122 1B132 1B150-1B152 " +
      "1B155 1B164-1B167 1B170-1B2FB 1D300-1D356 1D360-1D376 1F004 1F0CF 1F18E 1F191-1F19A " +
      "1F200-1F202 1F210-1F23B 1F240-1F248 1F250-1F251 1F260-1F265 1F300-1F320 1F32D-1F335 " +
      "1F337-1F37C 1F37E-1F393 1F3A0-1F3CA 1F3CF-1F3D3 1F3E0-1F3F0 1F3F4 1F3F8-1F43E 1F440 " +
      "1F442-1F4FC 1F4FF-1F53D 1F54B-1F54E 1F550-1F567 1F57A 1F595-1F596 1F5A4 1F5FB-1F64F " +
      "1F680-1F6C5 1F6CC 1F6D0-1F6D2 1F6D5-1F6D7 1F6DC-1F6DF 1F6EB-1F6EC 1F6F4-1F6FC 1F7E0-1F7EB " +
      "1F7F0 1F90C-1F93A 1F93C-1F945 1F947-1F9FF 1FA70-1FA7C 1FA80-1FA89 1FA8F-1FAC6 1FACE-1FADC " +
      "1FADF-1FAE9 1FAF0-1FAF8 20000-2FFFD 30000-3FFFD")
      .split(" ").map((r) => (r.split("-").concat(r).slice(0, 2)).map((h) => parseInt(h, 16))),
    CONTROL: /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g,

    /* One div.sql-output holding each statement's outcome, in order. */
    output(outcomes) {
      const out = el("div", "sql-output");
      for (const outcome of outcomes) this.statement(out, outcome);
      out.append("\n");
      return out;
    },
    statement(out, o) {
      const add = (node) => { out.append("\n", node); return node; };
      for (const notice of o.notices || []) {
        const pre = add(el("pre", "sql-notice", this.displayable(this.diagnosticText(notice, o.sql, false))));
        pre.dataset.severity = notice.severity;
      }
      if (o.moreNotices) add(el("div", "sql-notices-more")).append(this.more(o.moreNotices, "notice"));
      if (!o.ran) {
        add(el("div", "sql-skipped", "not run: an earlier statement of this block failed"));
      } else if (o.error) {
        const box = add(el("div", "sql-error"));
        box.dataset.sqlstate = o.error.code;
        box.append(el("pre", "", this.displayable(this.diagnosticText(o.error, o.sql, true))));
      } else if (o.columns) {
        add(this.table(o.columns, o.rows));
        const footer = add(el("div", "sql-rows", o.rowCount === 1 ? "(1 row)" : `(${o.rowCount} rows)`));
        const more = o.rowCount - o.rows.length;
        if (more) footer.append(" ", this.more(more, "row"));
        if (o.status && TAG_AFTER_ROWS.has(o.status.split(" ")[0])) add(el("div", "sql-status", o.status));
      } else if (o.copy !== null && o.copy !== undefined) {
        add(el("pre", "sql-copy", this.displayable(o.copy)));
        if (o.copyMore > 0) add(el("div", "sql-rows")).append(this.more(o.copyMore, "line"));
        add(el("div", "sql-status", o.status || ""));
      } else if (o.status) {
        add(el("div", "sql-status", o.status));
      }
    },
    more(n, word) {
      return el("span", "sql-more", `… ${n} more ${word}${n === 1 ? "" : "s"}`);
    },
    table(columns, rows) {
      const numeric = columns.map((c) => NUMERIC_OIDS.has(c.oid));
      const wrap = el("div", "sql-table-wrap");
      const table = wrap.appendChild(el("table", "sql-result"));
      const head = el("tr");
      columns.forEach((c, i) => head.append(el("th", numeric[i] ? "num" : "", this.displayable(c.name))));
      const thead = el("thead");
      thead.append(head);
      const tbody = el("tbody");
      for (const row of rows) {
        const tr = el("tr");
        row.forEach((v, i) => {
          const cls = v === null ? (numeric[i] ? "null num" : "null") : numeric[i] ? "num" : "";
          tr.append(el("td", cls, v === null ? undefined : this.displayable(v)));
        });
        tbody.append("\n", tr);
      }
      tbody.append("\n");
      table.append("\n", thead, "\n", tbody, "\n");
      return wrap;
    },
    /* Control characters as psql writes them: \r, \xNN below 0x80, \uNNNN above. */
    displayable(text) {
      return text.replace(this.CONTROL, (c) => {
        const code = c.charCodeAt(0);
        if (c === "\r") return "\\r";
        const hex = code.toString(16).toUpperCase();
        return code < 0x80 ? `\\x${hex.padStart(2, "0")}` : `\\u${hex.padStart(4, "0")}`;
      });
    },
    /* An error or notice as libpq prints it (pqBuildErrorMessage3, default verbosity): the
       LINE excerpt and caret, DETAIL, HINT, QUERY; CONTEXT for errors only (psql's default
       SHOW_CONTEXT). As render/psqlerror.py does, without the final newline. */
    diagnosticText(d, statement, isError) {
      const [query, cursor] = d.position ? [statement, d.position] : [d.internalQuery, d.internalPosition];
      let first = `${d.severity}:  ${d.message}`;
      if (cursor && (query === null || query === undefined)) first += ` at character ${cursor}`;
      const lines = [first, ...(cursor && query != null ? this.positionLines(query, cursor) : [])];
      const fields = [["DETAIL", d.detail], ["HINT", d.hint], ["QUERY", d.internalQuery]];
      if (isError) fields.push(["CONTEXT", d.where]);
      for (const [label, value] of fields) if (value !== null && value !== undefined) lines.push(`${label}:  ${value}`);
      return lines.join("\n").replace(/\n+$/, ""); // the build strips the text's final newlines
    },
    /* libpq's reportErrorPosition, as render/psqlerror.py ports it: the error's line, cut to
       60 columns around the cursor with "..." where cut, and a caret under the cursor. */
    positionLines(query, position) {
      const chars = Array.from(query); // positions count characters, not UTF-16 units
      const cursor = position - 1;
      const columns = [];
      let line = 1, begin = 0, end = null, column = 0;
      for (let index = 0; index < chars.length; index += 1) {
        const c = chars[index];
        columns.push(column);
        if (c === "\r" || c === "\n") {
          if (index >= cursor) { end = index; break; }
          if (c === "\r" || index === 0 || chars[index - 1] !== "\r") line += 1;
          begin = index + 1;
        }
        column += this.wide(c.codePointAt(0)) ? 2 : 1;
      }
      if (end === null) { end = chars.length; columns.push(column); }
      if (cursor < 0 || cursor > end) return [];
      let cutLeft = false, cutRight = false;
      if (columns[end] - columns[begin] > 60) {
        if (columns[begin] + 60 >= columns[cursor] + 10) {
          while (columns[end] - columns[begin] > 60) end -= 1;
          cutRight = true;
        } else {
          while (columns[cursor] + 10 < columns[end]) { end -= 1; cutRight = true; }
          while (columns[end] - columns[begin] > 60) { begin += 1; cutLeft = true; }
        }
      }
      const prefix = `LINE ${line}: ${cutLeft ? "..." : ""}`;
      const excerpt = chars.slice(begin, end).join("").replace(/\t/g, " ");
      const caret = " ".repeat(prefix.length + columns[cursor] - columns[begin]) + "^";
      return [prefix + excerpt + (cutRight ? "..." : ""), caret];
    },
    wide(code) {
      if (code < 0x1100) return false;
      return this.WIDE.some(([start, end]) => code >= start && code <= end);
    },
  };

  /* ---- Engine: the worker, created on first use; its keepsakes outlive it. ---- */
  const Engine = {
    worker: null, booting: null, seq: 0, pending: new Map(), known: new Set(),
    keep: { decks: {} }, // compiled modules, dumps: what a replacement worker starts from
    decks: new Map(), // deck -> Promise of its replay file
    listeners: new Set(), // status callbacks of panels waiting for the boot
    queue: Promise.resolve(),

    start() {
      if (this.booting) return this.booting;
      try {
        this.worker = new Worker(new URL("pgslides-try-worker.js", BASE), { type: "module" });
      } catch (error) {
        return Promise.reject(new Error(`could not start the worker (${error.message})`));
      }
      this.worker.onmessage = (event) => this.receive(event.data);
      this.worker.onerror = (event) => {
        event.preventDefault();
        this.stop(new Error(`the PostgreSQL worker failed (${event.message || "could not load pgslides-try-worker.js"})`));
      };
      const { decks, ...keep } = this.keep;
      this.booting = this.call("boot", { base: BASE.href, keep }, (p) => this.listeners.forEach((f) => f(p)));
      this.booting.catch((error) => this.stop(error));
      return this.booting;
    },
    call(op, args, onProgress) {
      const id = (this.seq += 1);
      return new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject, onProgress });
        this.worker.postMessage({ id, op, args });
      });
    },
    receive(msg) {
      if (msg.keep) {
        const { deck, dump, ...rest } = msg.keep;
        if (deck) this.keep.decks[deck] = dump;
        Object.assign(this.keep, rest);
        return;
      }
      const job = this.pending.get(msg.id);
      if (!job) return;
      if (msg.progress) { if (job.onProgress) job.onProgress(msg.progress); return; }
      this.pending.delete(msg.id);
      if (msg.error !== undefined) job.reject(new Error(msg.error));
      else job.resolve(msg.result);
    },
    /* Terminate the worker (a stuck statement, a failed boot): pending calls fail with `error`. */
    stop(error) {
      if (this.worker) this.worker.terminate();
      this.worker = null;
      this.booting = null;
      this.known.clear();
      const jobs = [...this.pending.values()];
      this.pending.clear();
      jobs.forEach((job) => job.reject(error));
    },
    /* The deck's replay file, fetched once per page. */
    deckData(deck) {
      if (!this.decks.has(deck)) {
        const path = deck.split("/").map(encodeURIComponent).join("/");
        const file = `try/${deck}.json`;
        const data = fetch(new URL(`try/${path}.json`, BASE))
          .catch((error) => { throw new Error(`could not fetch ${file} (${error.message})`); })
          .then((response) => {
            if (!response.ok) throw new Error(`could not fetch ${file} (HTTP ${response.status})`);
            return response.json();
          })
          .then((json) => {
            if (json.format !== 1) throw new Error(`${file} has format ${json.format}, this page reads format 1`);
            return json;
          });
        data.catch((error) => {
          error.notLoad = true; // the site's file, not PostgreSQL: say so
          this.decks.delete(deck);
        });
        this.decks.set(deck, data);
      }
      return this.decks.get(deck);
    },
    /* Everything a Run of this deck needs: the worker booted, the deck's setup done. */
    async ready(deck, onStatus) {
      if (onStatus) this.listeners.add(onStatus);
      try {
        const [data, boot] = await Promise.all([this.deckData(deck), this.start()]);
        if (!this.known.has(deck)) {
          await this.call("deck", { deck, settings: data.settings, setup: data.setup, dump: this.keep.decks[deck] }, onStatus);
          this.known.add(deck);
        }
        return { data, version: boot.version };
      } finally {
        this.listeners.delete(onStatus);
      }
    },
    /* Statements the block's earlier blocks ran at build time, in order. */
    replay(data, index) {
      return data.blocks.slice(0, index).flatMap((block) => block.replay);
    },
    prepare(deck, data, index) {
      const args = { deck, key: `${deck}#${index}`, replay: this.replay(data, index) };
      this.call("prepare", args).catch(() => {});
    },
    /* One Run, one at a time; a phase that outlasts its limit stops the worker. */
    run(deck, data, index, sql, onStatus) {
      const job = async () => {
        await this.ready(deck, onStatus);
        const outcomes = [];
        let statements = [];
        let timer = null;
        const arm = (ms, what) => {
          clearTimeout(timer);
          timer = setTimeout(() => {
            const error = new Error(`${what} took longer than ${ms / 1000} s`);
            Object.assign(error, { stopped: what, seconds: ms / 1000, outcomes, statements });
            this.stop(error);
          }, ms);
        };
        const progress = (p) => {
          if (p.phase === "replay") arm(REPLAY_LIMIT_MS, "replay");
          if (p.phase === "sql") {
            statements = p.statements;
            arm(RUN_LIMIT_MS, "sql");
          }
          if (p.phase === "outcome") outcomes[p.index] = p.outcome;
          onStatus(p);
        };
        const args = { deck, key: `${deck}#${index}`, replay: this.replay(data, index), sql, keep: data.blocks[index].rows };
        arm(REPLAY_LIMIT_MS, "replay"); // also covers a background replay the worker is busy with
        try {
          return await this.call("run", args, progress);
        } finally {
          clearTimeout(timer);
        }
      };
      const result = this.queue.then(job, job);
      this.queue = result.catch(() => {});
      return result;
    },
  };

  /* ---- Panels: one per button, inserted after the block's try bar. ---- */
  const Panels = {
    states: new WeakMap(),
    count: 0,

    toggle(button) {
      const state = this.states.get(button) || this.build(button);
      const open = state.panel.hidden;
      state.panel.hidden = !open;
      button.setAttribute("aria-expanded", String(open));
      if (open && location.protocol !== "file:") this.warm(state);
      if (open) state.editor.focus({ preventScroll: true });
      return state;
    },
    build(button) {
      const block = button.closest("[data-sql-block]");
      const sql = button.getAttribute("data-try-sql") || "";
      const state = {
        button, sql, deck: button.getAttribute("data-try-deck") || "",
        line: Number(block && block.dataset.line), running: false, ran: false,
        panel: el("div", "pgslides-try-panel"),
      };
      state.panel.id = `pgslides-try-panel-${(this.count += 1)}`;
      state.panel.setAttribute("role", "group");
      state.panel.setAttribute("aria-label", "Try it: run this block's SQL in your browser");
      button.setAttribute("aria-controls", state.panel.id);
      state.editor = el("textarea", "pgslides-try-editor");
      state.editor.value = sql;
      state.editor.spellcheck = false;
      const fit = () => { state.editor.rows = Math.min(16, Math.max(3, state.editor.value.split("\n").length)); };
      fit();
      state.editor.addEventListener("input", fit);
      state.editor.setAttribute("aria-label", "SQL to run");
      for (const attr of ["autocapitalize", "autocomplete", "autocorrect"]) state.editor.setAttribute(attr, "off");
      state.editor.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          event.stopPropagation();
          this.run(state);
        }
      });
      state.runButton = el("button", "pgslides-try-run", "Run");
      state.runButton.type = "button";
      state.runButton.title = "Run (Ctrl+Enter)";
      state.runButton.addEventListener("click", () => this.run(state));
      state.resetButton = el("button", "pgslides-try-reset", "Reset");
      state.resetButton.type = "button";
      state.resetButton.title = "Put back the slide's SQL and clear the output";
      state.resetButton.addEventListener("click", () => this.reset(state));
      state.status = el("span", "pgslides-try-state");
      state.status.setAttribute("role", "status");
      state.status.setAttribute("aria-live", "polite");
      const actions = el("div", "pgslides-try-actions");
      actions.append(state.runButton, state.resetButton, state.status);
      state.note = el("div", "pgslides-try-note", "PostgreSQL (PGlite) in your browser.");
      state.output = el("div", "pgslides-try-output");
      state.panel.append(state.editor, actions, state.note, state.output);
      state.panel.hidden = true;
      const bar = button.closest(".pgslides-try-bar") || button;
      bar.after(state.panel);
      this.states.set(button, state);
      return state;
    },
    say(state, text) {
      state.status.textContent = text;
    },
    message(state, text) {
      const box = el("div", "pgslides-try-message", text);
      state.output.replaceChildren(box);
      return box;
    },
    statusText(state, p) {
      const texts = {
        load: "Loading PostgreSQL into your browser (16 MB, once)…",
        initdb: "Starting PostgreSQL (once, a few seconds)…",
        setup: "Running the deck's setup…",
        replay: `Replaying ${plural(state.earlier || 0, "earlier block")}…`,
        sql: "Running…",
      };
      return texts[p.phase];
    },
    /* Resolve the block in the replay file and write the note; null if it is not there. */
    locate(state, data, version) {
      const index = data.blocks.findIndex((b) => b.line === state.line && b.session === "main");
      if (index < 0) return null;
      const before = data.blocks.slice(0, index);
      const main = before.filter((b) => b.session === "main").length;
      state.earlier = before.filter((b) => b.replay.length).length;
      const from = main ? `the deck's setup and the ${plural(main, "main-session block")} before this one` : "the deck's setup";
      const notes = [`PostgreSQL ${version} (PGlite) in your browser, from ${from}; ` +
        `the slide's results came from PostgreSQL ${data.server_version} at build time.`];
      const missing = data.blocks[index].missing || [];
      if (missing.length) notes.push(`Not replayed here: ${missing.join("; ")} — what they changed is missing.`);
      state.note.replaceChildren(...notes.map((text) => el("p", "", text)));
      return index;
    },
    /* Start loading as soon as the panel opens, so that the first Run is quicker. */
    warm(state) {
      if (state.warming) return state.warming;
      const onStatus = (p) => { if (this.statusText(state, p)) this.say(state, this.statusText(state, p)); };
      state.warming = Engine.ready(state.deck, onStatus).then(({ data, version }) => {
        const index = this.locate(state, data, version);
        if (index === null) {
          throw Object.assign(new Error(`this block (line ${state.line}) is not in the deck's replay file try/${state.deck}.json; rebuilding the site should fix it`), { notLoad: true });
        }
        if (!state.running && !state.ran) this.say(state, "Ready");
        Engine.prepare(state.deck, data, index);
        state.located = { data, index };
        return state.located;
      });
      state.warming.catch((error) => {
        state.warming = null; // a later click tries again
        if (!state.running) this.fail(state, error);
      });
      return state.warming;
    },
    fail(state, error) {
      this.say(state, error.notLoad ? "Not available" : "Could not load PostgreSQL");
      const text = error.notLoad ? `Try it cannot run here: ${error.message}.` : `Could not load PostgreSQL into your browser: ${error.message}.`;
      return this.message(state, text);
    },
    /* Run the editor's SQL; resolves to what the output area then shows. */
    async run(state) {
      if (state.running) return state.output.firstChild;
      if (location.protocol === "file:") return this.message(state, FILE_MESSAGE);
      state.running = true;
      state.runButton.disabled = true;
      state.panel.setAttribute("aria-busy", "true");
      if (state.located) this.say(state, "Running…"); // else the loading steps say what goes on
      try {
        let located;
        try {
          located = await this.warm(state);
        } catch (error) {
          return this.fail(state, error);
        }
        const onStatus = (p) => { if (this.statusText(state, p)) this.say(state, this.statusText(state, p)); };
        let result;
        try {
          result = await Engine.run(state.deck, located.data, located.index, state.editor.value, onStatus);
        } catch (error) {
          return this.stopped(state, error);
        }
        if (result.refused) {
          this.say(state, "Not run");
          return this.message(state, result.refused);
        }
        const output = Renderer.output(result.outcomes);
        state.output.replaceChildren(output);
        state.ran = true;
        this.say(state, `Ran in ${Math.max(1, Math.round(result.ms))} ms`);
        return output;
      } finally {
        state.running = false;
        state.runButton.disabled = false;
        state.panel.removeAttribute("aria-busy");
      }
    },
    /* A Run that failed: stopped after its time limit, or PostgreSQL itself failed. */
    stopped(state, error) {
      if (error.stopped !== "sql") {
        this.say(state, error.stopped ? "Stopped" : "Failed");
        const text = error.stopped
          ? `Replaying the earlier blocks took longer than ${error.seconds} s, so your browser stopped it. The next Run starts a fresh PostgreSQL.`
          : `PostgreSQL failed in your browser: ${error.message}. The next Run starts a fresh one.`;
        if (!error.stopped) Engine.stop(error);
        return this.message(state, text);
      }
      const done = error.outcomes.filter(Boolean);
      const timeout = {
        sql: error.statements[done.length], ran: true, notices: [],
        error: {
          severity: "ERROR", code: "57014", message: "canceling statement due to statement timeout",
          detail: `Your browser stopped it after ${error.seconds} s; the next Run starts a fresh PostgreSQL.`,
        },
      };
      const skipped = error.statements.slice(done.length + 1).map((sql) => ({ sql, ran: false }));
      const output = Renderer.output([...done, timeout, ...skipped]);
      state.output.replaceChildren(output);
      this.say(state, `Stopped after ${error.seconds} s`);
      return output;
    },
    reset(state) {
      state.editor.value = state.sql;
      state.editor.dispatchEvent(new Event("input"));
      state.output.replaceChildren();
      state.ran = false;
      if (!state.running) this.say(state, "");
      state.editor.focus({ preventScroll: true });
    },
  };

  /* ---- selfCheck: the whole deck on one instance, each block's own source, as a Run
     renders it; the build's outputs can be compared to these. ---- */
  async function selfCheck(deck) {
    const { data } = await Engine.ready(deck);
    const buttons = new Map();
    for (const button of document.querySelectorAll("button.pgslides-try")) {
      const block = button.closest("[data-sql-block]");
      if (button.getAttribute("data-try-deck") === deck && block) {
        buttons.set(Number(block.dataset.line), button.getAttribute("data-try-sql") || "");
      }
    }
    const blocks = data.blocks.map((b) => b.session !== "main" ? null
      : { sql: buttons.has(b.line) ? buttons.get(b.line) : null, replay: b.replay, keep: b.rows });
    const results = await Engine.call("selfcheck", { deck, blocks }, () => {});
    const checked = [];
    data.blocks.forEach((b, i) => {
      if (results[i] && b.try === "yes") checked.push({ line: b.line, html: Renderer.output(results[i]).outerHTML });
    });
    return checked;
  }

  function label() {
    if (location.protocol !== "file:") return;
    for (const button of document.querySelectorAll("button.pgslides-try")) {
      button.textContent = "Try it (needs http)";
      button.title = "Running SQL in the browser needs the site served over http(s)";
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button.pgslides-try");
    if (!button) return;
    const state = Panels.toggle(button);
    if (location.protocol === "file:") Panels.message(state, FILE_MESSAGE);
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", label);
  else label();
  if (window.document$ && window.document$.subscribe) window.document$.subscribe(label); // Material's instant navigation

  window.pgslidesTry = {
    ready: (deck) => Engine.ready(deck).then(() => true),
    run(button, sql) {
      const state = Panels.states.get(button) || Panels.build(button);
      if (state.panel.hidden) Panels.toggle(button);
      if (sql !== undefined && sql !== null) {
        state.editor.value = sql;
        state.editor.dispatchEvent(new Event("input"));
      }
      return Panels.run(state);
    },
    selfCheck,
  };
})();
