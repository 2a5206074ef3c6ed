/* pgslides: a deck page as handout, presentation, overview, presenter view and print.
 *
 * The page Material renders is the single source: every slide is a
 * <section class="slide" id="slide-N"> in article.md-content__inner, its notes
 * in <aside class="notes">. Nothing here is fetched: the script works from
 * file:// and from any sub-path, and only ever uses relative URLs (#hashes).
 *
 *   Handout      the sections as 16:9 cards (CSS), plus a Present button.
 *   Presenting   html.pgslides-presenting: the article becomes a fixed,
 *                letterboxed viewport; each section is a 1280×720 "stage"
 *                scaled to the window with a CSS transform; one is visible.
 *                URL: #/N (1-based) or #/N/S (after step S), one history
 *                entry per slide.
 *   Steps        elements with data-step="K" (the build numbers them; the
 *                script numbers class "step" itself when it did not) are
 *                hidden until step K, keeping their place. pre[data-hl] code
 *                highlights one segment of lines per step.
 *   Overview,    clones of the sections shown in "frames": a 1280×720 stage
 *   presenter    scaled into a box. The originals never move.
 *   view         The presenter view is this same page in a second window,
 *                opened at #presenter/N[/S]; the windows keep each other in
 *                step (BroadcastChannel + postMessage between opener and popup).
 *   Print        one 13.333in × 7.5in page (= 1280×720 CSS px) per slide
 *                (#print-steps: per step state), printed from clones in
 *                div.pgslides-print; with html.pgslides-print-notes
 *                (#print-notes, #print-notes-steps or ?print-notes) each page
 *                shows the slide smaller with its notes.
 *
 * Fit: a slide whose content is bigger than the stage is scaled down. It is
 * measured on the print clones (laid out exactly like the stage, off screen)
 * and stored as CSS variables on the section. A slide with steps is never
 * presented below READABLE: it keeps its current step in view by moving its
 * content up instead (print and overview still show it whole).
 *
 * One controller object per concern (deck, steps, fit, printer, stage, router,
 * windows, timer, presenter, overview, help, keyboard, touch); they talk
 * through stage.go and the events "pgslides:slidechanged" and
 * "pgslides:stepchanged" on document. KEYS is the one table of keys: the key
 * handler dispatches from it, the help overlay is drawn from it, and README's
 * key table is checked against it (tests/test_readme.py reads the JSON between
 * the markers).
 */
(() => {
  "use strict";

  // prettier-ignore
  const KEYS = /* pgslides-keys: begin */ [
    {"keys": "→ ↓ Space PageDown n", "action": "next step, or the next slide after the last step",
     "match": {"ArrowRight": "next", "ArrowDown": "next", " ": "next", "PageDown": "next", "n": "next"}},
    {"keys": "← ↑ PageUp Backspace Shift+Space", "action": "previous step (back onto a slide: all its steps shown)",
     "match": {"ArrowLeft": "prev", "ArrowUp": "prev", "PageUp": "prev", "Backspace": "prev", "Shift+ ": "prev"}},
    {"keys": "Alt+→ / Alt+←", "action": "next / previous slide, skipping steps",
     "match": {"Alt+ArrowRight": "nextSlide", "Alt+ArrowLeft": "prevSlide"}},
    {"keys": "Home / End", "action": "first slide / last slide (all its steps)",
     "match": {"Home": "first", "End": "last"}},
    {"keys": "a number, then Enter", "action": "go to that slide",
     "match": {"0-9": "digit", "Enter": "gotoTyped"}},
    {"keys": "o", "action": "overview (arrows and Enter pick a slide)", "match": {"o": "overview"}},
    {"keys": "b or .", "action": "blank the screen", "match": {"b": "blank", ".": "blank"}},
    {"keys": "f", "action": "full screen", "match": {"f": "fullscreen"}},
    {"keys": "s", "action": "presenter view: notes, next step, timer", "match": {"s": "presenter"}},
    {"keys": "t / r", "action": "presenter view: pause / reset the timer",
     "match": {"t": "timer", "r": "resetTimer"}},
    {"keys": "+ / -", "action": "presenter view: bigger / smaller notes",
     "match": {"+": "notesBigger", "=": "notesBigger", "-": "notesSmaller"}},
    {"keys": "p", "action": "present (from the handout)", "match": {"p": "present"}},
    {"keys": "Esc", "action": "close this, the overview, or leave", "match": {"Escape": "escape"}},
    {"keys": "?", "action": "this help", "match": {"?": "help"}}
  ] /* pgslides-keys: end */;

  const STAGE_W = 1280;
  const STAGE_H = 720;
  // Bisection bounds for fitting: no slide is drawn smaller than this, and ten
  // halvings bring the scale within a thousandth of the largest that fits.
  const MIN_FIT = 0.05;
  const FIT_PASSES = 10;
  // A slide with steps is presented at least this large (text of 28px stays >= 22px);
  // what does not fit scrolls to keep the current step in view.
  const READABLE = 0.8;
  const SWIPE_MIN = 40; // px a finger must travel sideways to change slide
  const GOTO_TIMEOUT = 3000; // ms a typed slide number waits for Enter
  const ALL = Infinity; // "every step shown"
  const html = document.documentElement;

  // --- small helpers --------------------------------------------------------

  function make(tag, className, attrs) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    return node;
  }

  const clamp = (n, lo, hi) => Math.min(hi, Math.max(lo, n));
  const pad2 = (n) => String(n).padStart(2, "0");

  // Keys typed into a text field (Material's search box, say) are text, not commands.
  // A focused checkbox or radio (Material's palette toggle) is not a text field.
  const NOT_TEXT = new Set([
    "button", "checkbox", "color", "file", "image", "radio", "range", "reset", "submit",
  ]);

  function isTyping(target) {
    if (!(target instanceof Element)) return false;
    if (target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
    return target.tagName === "INPUT" && !NOT_TEXT.has(target.type);
  }

  // A copy must not share ids with the original, nor its radio groups: content tabs are
  // radio inputs by name, and a copy's checked input would uncheck the original's tab.
  function detach(copy) {
    for (const node of copy.querySelectorAll("[id]")) node.removeAttribute("id");
    for (const node of copy.querySelectorAll("input[name]")) node.removeAttribute("name");
  }

  function emit(type, detail) {
    document.dispatchEvent(new CustomEvent(`pgslides:${type}`, { detail }));
  }

  // --- deck: the slides, their titles, notes and deck-level settings ---------

  const deck = {
    article: null,
    slides: [],
    titles: [],
    meta: { durationS: 0, theme: "auto" },

    load() {
      this.article = document.querySelector("article.md-content__inner");
      this.slides = this.article ? Array.from(this.article.querySelectorAll("section.slide")) : [];
      this.titles = this.slides.map((section) => {
        const heading = section.querySelector(".slide-body h1, .slide-body h2, .slide-body h3");
        return heading ? heading.textContent.trim() : "";
      });
      const meta = document.querySelector(".pgslides-deck-meta");
      if (meta) {
        this.meta.durationS = Number(meta.dataset.durationS) || 0;
        this.meta.theme = meta.dataset.theme || "auto";
      }
      for (const s of this.slides) {
        // Title slides (a level-1 heading) are centred on the stage.
        if (s.querySelector(".slide-body h1")) s.classList.add("pgslides-title");
      }
      return this.slides.length > 0;
    },

    get count() {
      return this.slides.length;
    },

    label(i) {
      const title = this.titles[i] ? `: ${this.titles[i]}` : "";
      return `Slide ${i + 1} of ${this.count}${title}`;
    },

    // A copy of a slide for frames and print: a <div class="slide"> (never a second
    // section.slide), without ids, notes or Material's copy buttons, hidden from
    // assistive technology (the original is the accessible one). fitted: "whole"
    // (everything in view, for overview and print) or "presented" (as on the stage).
    clone(i, { step = ALL, fitted = "whole" } = {}) {
      const section = this.slides[i];
      const copy = make("div", `${section.className} pgslides-clone`, { "aria-hidden": "true" });
      copy.classList.remove("pgslides-current");
      for (const name of ["steps", "layout", "fitScale"]) {
        if (section.dataset[name] !== undefined) copy.dataset[name] = section.dataset[name];
      }
      copy.dataset.index = String(i);
      copy.dataset.fitted = fitted;
      fit.applyTo(copy);
      const body = section.querySelector(".slide-body");
      if (body) copy.appendChild(body.cloneNode(true));
      detach(copy);
      for (const node of copy.querySelectorAll(".md-code__nav, .md-clipboard")) node.remove();
      steps.apply(copy, step);
      copy.inert = true;
      return copy;
    },

    notes(i) {
      const details = this.slides[i].querySelector(".notes details");
      const box = make("div", "pgslides-notes-body md-typeset");
      if (!details) return box;
      for (const child of details.childNodes) {
        if (child.nodeName !== "SUMMARY") box.appendChild(child.cloneNode(true));
      }
      detach(box);
      return box;
    },
  };

  // --- frames: a 1280×720 stage scaled (CSS variable) into whatever box holds it -----

  const frames = {
    make(content) {
      const frame = make("div", "pgslides-frame");
      const stage = make("div", "pgslides-frame-stage pgslides-staged md-typeset");
      if (content) stage.appendChild(content);
      frame.appendChild(stage);
      return frame;
    },

    scale(frame) {
      const scale = Math.min(frame.clientWidth / STAGE_W, frame.clientHeight / STAGE_H);
      if (scale > 0) frame.style.setProperty("--pgslides-frame-scale", String(scale));
    },

    // Show slide i at a step (null: the end of the deck), as presented.
    show(frame, i, step) {
      const stage = frame.firstElementChild;
      if (i === null) {
        stage.replaceChildren(make("div", "pgslides-frame-end", { text: "End of the deck" }));
        return;
      }
      const copy = deck.clone(i, { step, fitted: "presented" });
      stage.replaceChildren(copy);
      steps.keepInView(copy, step);
    },
  };

  // --- steps: which elements unfold, and what a step state shows ------------

  const steps = {
    counts: [],

    // The build numbers steps (data-step, data-steps); a page built without that
    // (hand-written HTML, an older build) gets its class "step" numbered in order.
    number() {
      this.counts = deck.slides.map((section) => {
        const body = section.querySelector(".slide-body");
        if (!body) return 0;
        if (!body.querySelector("[data-step]")) {
          body.querySelectorAll(".step").forEach((el, k) => {
            el.dataset.step = String(k + 1);
          });
        }
        let n = Number(section.dataset.steps) || 0;
        if (!n) {
          for (const el of body.querySelectorAll("[data-step]")) n = Math.max(n, Number(el.dataset.step) || 0);
          if (n) section.dataset.steps = String(n);
        }
        return n;
      });
    },

    count(i) {
      return this.counts[i] || 0;
    },

    // Show a slide (a section or a clone) at step S: later steps hidden (keeping their
    // place), the active segment of each highlighted code block lit. ALL: every step,
    // no highlight (the handout's view).
    apply(holder, step) {
      const body = holder.querySelector(".slide-body") || holder;
      for (const el of body.querySelectorAll("[data-step]")) {
        el.classList.toggle("pgslides-step-hidden", Number(el.dataset.step) > step);
      }
      const blocks = Array.from(body.querySelectorAll("pre[data-hl]"));
      if (!blocks.length) return;
      const markers = Array.from(body.querySelectorAll(".pgslides-hl-step[data-hl-lines]"));
      for (const pre of blocks) {
        const lines = pre.querySelectorAll(".pgslides-line");
        if (step === ALL) {
          pre.classList.remove("pgslides-hl-active");
          for (const line of lines) line.classList.remove("pgslides-hl");
          continue;
        }
        // A marker belongs to the last highlighted block before it in the document.
        const mine = markers.filter((m) => owner(blocks, m) === pre);
        let spec = pre.dataset.hlFirst || (pre.dataset.hl || "").split("|")[0] || "";
        for (const m of mine) if (Number(m.dataset.step) <= step) spec = m.dataset.hlLines;
        const lit = parseLines(spec);
        pre.classList.add("pgslides-hl-active");
        lines.forEach((line, n) => line.classList.toggle("pgslides-hl", lit.has(n + 1)));
      }
    },

    // The stage draws a slide with steps at READABLE at least: move its content up
    // (smoothly, by CSS) so that the last step shown ends inside the stage.
    keepInView(holder, step) {
      const body = holder.querySelector(".slide-body");
      if (!body) return 0;
      let shift = 0;
      if (holder.dataset.scrolls === "true" && step > 0 && step !== ALL) {
        const shown = Array.from(body.querySelectorAll("[data-step]")).filter(
          (el) => Number(el.dataset.step) <= step,
        );
        const k = holder.getBoundingClientRect().width / STAGE_W;
        if (shown.length && k > 0) {
          const style = getComputedStyle(holder);
          const room = holder.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
          const top = body.getBoundingClientRect().top;
          const height = body.getBoundingClientRect().height / k;
          let bottom = 0;
          const blocks = Array.from(body.querySelectorAll("pre[data-hl]"));
          for (const el of shown) {
            // A highlight marker is empty: its code block is what must be in view.
            const target = (el.matches(".pgslides-hl-step") && owner(blocks, el)) || el;
            bottom = Math.max(bottom, (target.getBoundingClientRect().bottom - top) / k);
          }
          shift = clamp(bottom - room, 0, Math.max(0, height - room));
        }
      }
      if (shift > 0) {
        holder.style.setProperty("--pgslides-step-shift", `${shift.toFixed(1)}px`);
        holder.dataset.stepShift = shift.toFixed(1);
      } else {
        holder.style.removeProperty("--pgslides-step-shift");
        delete holder.dataset.stepShift;
      }
      return shift;
    },
  };

  function owner(blocks, marker) {
    let found = null;
    for (const pre of blocks) {
      if (pre.compareDocumentPosition(marker) & Node.DOCUMENT_POSITION_FOLLOWING) found = pre;
    }
    return found;
  }

  // "1-2,5" → {1, 2, 5}
  function parseLines(spec) {
    const out = new Set();
    for (const part of String(spec || "").split(",")) {
      const m = /^\s*(\d+)\s*(?:-\s*(\d+))?\s*$/.exec(part);
      if (!m) continue;
      const lo = Number(m[1]);
      const hi = m[2] ? Number(m[2]) : lo;
      for (let n = lo; n <= hi; n += 1) out.add(n);
    }
    return out;
  }

  // --- fit: the scale each slide is drawn at ----------------------------------

  const fit = {
    // Per slide: whole = everything in view (overview, print); presented = on the stage
    // (the same, except that a slide with steps stays at READABLE and scrolls).
    whole: [],
    presented: [],

    // Scale each item's content down until it fits its holder's content box.
    // The content is laid out wider (availW / scale) and drawn at that scale, so
    // text rewraps to use the room and a wide table ends exactly at the edge.
    // Wider layouts are shorter (columns rewrap), so the largest scale that fits
    // is found by bisection rather than by shrinking once. Reads and writes are
    // batched: one layout per pass for all items. An item with widthOnly only has
    // to fit across.
    boxes(items) {
      for (const item of items) setFit(item.holder, 1, 0);
      const avail = items.map(({ holder }) => {
        const style = getComputedStyle(holder);
        return {
          w: holder.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
          h: holder.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom),
        };
      });
      const fits = (i, scale) => {
        const { content, widthOnly } = items[i];
        const room = avail[i];
        return (
          content.scrollWidth * scale <= room.w + 0.5 &&
          (widthOnly || content.scrollHeight * scale <= room.h + 0.5)
        );
      };
      // At full size first: most slides fit as they are.
      const open = [];
      const lo = items.map(() => 1);
      const hi = items.map(() => 1);
      items.forEach((item, i) => {
        const room = avail[i];
        if (room.w > 0 && room.h > 0 && !fits(i, 1)) {
          open.push(i);
          lo[i] = MIN_FIT;
        }
      });
      for (let pass = 0; pass < FIT_PASSES && open.length; pass += 1) {
        const mids = open.map((i) => (lo[i] + hi[i]) / 2);
        open.forEach((i, k) => setFit(items[i].holder, mids[k], avail[i].w / mids[k]));
        open.forEach((i, k) => {
          if (fits(i, mids[k])) lo[i] = mids[k];
          else hi[i] = mids[k];
        });
      }
      return items.map((item, i) => {
        const scale = lo[i] >= 1 ? 1 : Math.floor(lo[i] * 1000) / 1000;
        const width = scale < 1 ? avail[i].w / scale : 0;
        setFit(item.holder, scale, width);
        return { scale, width, availW: avail[i].w };
      });
    },

    // Fit every slide (and, for printing with notes, every page's notes), measured
    // on fresh print clones (so a changed slide is measured as it is now), then
    // hand the result to the sections and to every other clone.
    all() {
      printer.build();
      const box = printer.box;
      box.classList.add("pgslides-measuring");
      const firsts = deck.slides.map((_, i) => box.querySelector(`.pgslides-print-page[data-slide="${i + 1}"]`));
      const items = firsts.map((page) => {
        const holder = page.querySelector(".slide");
        return { holder, content: holder.querySelector(".slide-body") || holder };
      });
      this.whole = this.boxes(items);
      // A slide with steps that would be drawn below READABLE: as large as its width
      // allows, up to READABLE; its steps scroll into view.
      const tall = items
        .map((item, i) => ({ ...item, i, widthOnly: true }))
        .filter(({ i }) => steps.count(i) > 0 && this.whole[i].scale < READABLE);
      const across = this.boxes(tall);
      this.presented = this.whole.slice();
      tall.forEach(({ i }, k) => {
        const scale = Math.max(this.whole[i].scale, Math.min(READABLE, across[k].scale));
        if (scale > this.whole[i].scale) {
          this.presented[i] = { scale, width: across[k].availW / scale, scrolls: true };
        }
      });
      if (html.classList.contains("pgslides-print-notes")) {
        this.boxes(
          Array.from(box.children).map((page) => {
            const holder = page.querySelector(".pgslides-print-notes-box");
            return { holder, content: holder.firstElementChild };
          }),
        );
      }
      box.classList.remove("pgslides-measuring");
      deck.slides.forEach((section, i) => {
        section.dataset.index = String(i);
        section.dataset.fitted = "presented";
        const { scale } = this.presented[i];
        if (scale < 1) section.dataset.fitScale = scale.toFixed(3);
        else delete section.dataset.fitScale;
      });
      for (const holder of document.querySelectorAll("section.slide, .pgslides-clone")) this.applyTo(holder);
    },

    applyTo(holder) {
      const i = Number(holder.dataset.index);
      const table = holder.dataset.fitted === "whole" ? this.whole : this.presented;
      const entry = table[i];
      if (!entry) return;
      setFit(holder, entry.scale, entry.width);
      if (entry.scrolls) holder.dataset.scrolls = "true";
      else delete holder.dataset.scrolls;
    },

    scaleOf(i) {
      const entry = this.presented[i];
      return entry ? entry.scale : 1;
    },
  };

  function setFit(holder, scale, width) {
    if (scale >= 1) {
      holder.style.removeProperty("--pgslides-fit");
      holder.style.removeProperty("--pgslides-fit-width");
    } else {
      holder.style.setProperty("--pgslides-fit", String(scale));
      holder.style.setProperty("--pgslides-fit-width", `${width.toFixed(2)}px`);
    }
  }

  // --- printer: one page per slide, or per step state --------------------------

  // Built up front because page.pdf() and some browsers never fire beforeprint.
  const printer = {
    box: null,

    stepsRequested() {
      return location.hash === "#print-steps" || location.hash === "#print-notes-steps";
    },

    notesRequested() {
      const query = new URLSearchParams(location.search);
      return location.hash === "#print-notes" || location.hash === "#print-notes-steps" || query.has("print-notes");
    },

    // Each page: the slide in a frame, its number, and its notes (shown only with
    // html.pgslides-print-notes). With html.pgslides-print-steps a slide with N steps
    // gives N+1 pages: before its first step, then after each.
    build() {
      const old = this.box;
      const perStep = html.classList.contains("pgslides-print-steps");
      this.box = make("div", "pgslides-print pgslides-ui", { "aria-hidden": "true" });
      deck.slides.forEach((_, i) => {
        const n = steps.count(i);
        const states = perStep && n ? Array.from({ length: n + 1 }, (_, s) => s) : [ALL];
        for (const step of states) {
          const page = make("div", "pgslides-print-page", { "data-slide": String(i + 1) });
          if (step !== ALL) page.dataset.step = String(step);
          const notes = make("div", "pgslides-print-notes-box");
          notes.appendChild(deck.notes(i));
          const number = `${i + 1} / ${deck.count}` + (step === ALL ? "" : ` · step ${step} of ${n}`);
          page.append(
            frames.make(deck.clone(i, { step })),
            make("div", "pgslides-print-number", { text: number }),
            notes,
          );
          this.box.appendChild(page);
        }
      });
      if (old) old.replaceWith(this.box);
      else document.body.appendChild(this.box);
    },
  };

  // --- announcements --------------------------------------------------------

  const speaker = {
    live: null,
    // Polite: the slide change is read after whatever is being read now.
    say(text) {
      this.live.textContent = text;
    },
  };

  // --- stage: presenting, and the position (slide, step) --------------------

  const stage = {
    index: 0,
    step: 0,
    presenting: false, // this window shows the stage
    presenterView: false, // this window is the presenter view
    blank: false,
    goto: "", // digits typed so far
    ui: {},

    get active() {
      return this.presenting || this.presenterView;
    },

    buildUi() {
      speaker.live = make("div", "pgslides-live pgslides-sr-only pgslides-ui", {
        "aria-live": "polite",
        "aria-atomic": "true",
      });
      const hud = make("div", "pgslides-hud pgslides-ui", { "aria-hidden": "true" });
      const progress = make("div", "pgslides-progress");
      progress.appendChild(make("div", "pgslides-progress-bar"));
      const counter = make("div", "pgslides-counter");
      hud.append(progress, counter);
      const gotoBox = make("div", "pgslides-goto pgslides-ui", { "aria-live": "polite" });
      gotoBox.hidden = true;
      const blankScreen = make("div", "pgslides-blank-screen pgslides-ui");
      document.body.append(speaker.live, hud, gotoBox, blankScreen);
      Object.assign(this.ui, { hud, counter, gotoBox });

      const toolbar = make("div", "pgslides-toolbar");
      const presentButton = make("button", "md-button md-button--primary pgslides-present", {
        type: "button",
        text: "Present",
        title: "Present from the first slide (p: from the slide in view)",
      });
      const presenterButton = make("button", "md-button pgslides-open-presenter", {
        type: "button",
        text: "Presenter view",
        title: "Present, with notes and timer in a second window (s)",
      });
      const hint = make("button", "pgslides-hint", { type: "button", title: "Keys (?)" });
      hint.append("Keys ", make("kbd", "", { text: "?" }));
      toolbar.append(presentButton, presenterButton, hint);
      presentButton.addEventListener("click", () => this.present(0));
      presenterButton.addEventListener("click", () => {
        this.present(0);
        presenter.open();
      });
      hint.addEventListener("click", () => help.toggle(true));
      deck.slides[0].before(toolbar);
      this.ui.presentButton = presentButton;
    },

    // The slide whose card is in view: where `p` starts presenting from.
    // From the handout: where a presenting window of the deck is, else the slide in view.
    presentHere() {
      const adopted = windows.adopted;
      if (adopted) this.present(adopted.index, adopted.step);
      else this.present(this.slideInView());
    },

    slideInView() {
      const line = window.innerHeight * 0.3;
      const i = deck.slides.findIndex((s) => s.getBoundingClientRect().bottom > line);
      return i < 0 ? deck.count - 1 : i;
    },

    present(i, step = 0, how = "push") {
      if (this.presenting) {
        this.go(i, step, { history: how });
        return;
      }
      this.presenting = true;
      html.classList.add("pgslides-presenting");
      deck.article.classList.add("pgslides-staged");
      deck.article.tabIndex = -1;
      theme.apply(deck.article);
      this.scale();
      this.index = -1; // force a full render
      this.go(i, step, { history: how, announcePrefix: "Presenting. " });
      deck.article.focus({ preventScroll: true });
    },

    leave(how = "push") {
      if (!this.presenting) return;
      help.close();
      overview.close();
      this.setGoto("");
      this.setBlank(false);
      this.presenting = false;
      html.classList.remove("pgslides-presenting");
      deck.article.classList.remove("pgslides-staged");
      deck.article.removeAttribute("tabindex");
      theme.clear(deck.article);
      for (const s of deck.slides) {
        s.classList.remove("pgslides-current");
        steps.apply(s, ALL);
        steps.keepInView(s, ALL);
      }
      if (document.fullscreenElement && document.exitFullscreen) document.exitFullscreen().catch(() => {});
      if (how === "push") history.pushState(null, "", location.pathname + location.search);
      // Back on the handout at the slide we left, focus on the Present button.
      deck.slides[this.index].scrollIntoView({ block: "start" });
      this.ui.presentButton.focus({ preventScroll: true });
      speaker.say("Left the presentation");
    },

    scale() {
      const scale = Math.min(html.clientWidth / STAGE_W, html.clientHeight / STAGE_H);
      html.style.setProperty("--pgslides-scale", String(scale));
    },

    // Moving through the deck, one press at a time.
    next() {
      if (this.step < steps.count(this.index)) this.go(this.index, this.step + 1);
      else if (this.index + 1 < deck.count) this.go(this.index + 1, 0);
    },

    prev() {
      if (this.step > 0) this.go(this.index, this.step - 1);
      else if (this.index > 0) this.go(this.index - 1, ALL);
    },

    // The state one press of "next" leads to, or null at the end of the deck.
    upcoming() {
      if (this.step < steps.count(this.index)) return { index: this.index, step: this.step + 1 };
      if (this.index + 1 < deck.count) return { index: this.index + 1, step: 0 };
      return null;
    },

    // Show slide i at step S (ALL: every step). history: "push" (a new entry per
    // slide, so Back steps back; a step within a slide replaces it), "replace", or
    // "none" (we are following the URL already).
    go(i, step = 0, { history: how = "push", remote = false, announcePrefix = "" } = {}) {
      const next = clamp(Number.isFinite(i) ? i : 0, 0, deck.count - 1);
      const stepped = clamp(Number.isFinite(Number(step)) || step === ALL ? Number(step) : 0, 0, steps.count(next));
      const slideChanged = next !== this.index;
      const stepChanged = slideChanged || stepped !== this.step;
      this.index = next;
      this.step = stepped;
      if (this.presenting) {
        deck.slides.forEach((s, n) => {
          s.classList.toggle("pgslides-current", n === next);
          if (n !== next) steps.apply(s, ALL);
        });
        steps.apply(deck.slides[next], stepped);
        steps.keepInView(deck.slides[next], stepped);
        const focused = document.activeElement;
        if (focused && deck.article.contains(focused) && !deck.slides[next].contains(focused)) {
          deck.article.focus({ preventScroll: true });
        }
        this.ui.hud.style.setProperty("--pgslides-progress", String((next + 1) / deck.count));
        this.ui.counter.textContent = `${next + 1} / ${deck.count}`;
      }
      if (this.presenterView) presenter.render();
      if (overview.isOpen) overview.select(next);
      router.write(slideChanged || how !== "push" ? how : "replace");
      if (slideChanged) {
        speaker.say(announcePrefix + deck.label(next));
        emit("slidechanged", this.position());
      } else if (stepChanged) {
        speaker.say(`Step ${stepped} of ${steps.count(next)}`);
      }
      if (stepChanged) {
        emit("stepchanged", this.position());
        if (!remote) windows.send();
      }
    },

    position() {
      return {
        slide: this.index + 1,
        step: this.step,
        steps: steps.count(this.index),
        scale: fit.scaleOf(this.index),
        shift: Number(deck.slides[this.index] && deck.slides[this.index].dataset.stepShift) || 0,
        presenting: this.presenting,
        presenterView: this.presenterView,
      };
    },

    setBlank(on, { remote = false } = {}) {
      if (this.blank === on) return;
      this.blank = on;
      html.classList.toggle("pgslides-blank", on);
      if (this.presenterView) presenter.render();
      speaker.say(on ? "Screen blanked" : "Screen shown");
      if (!remote) windows.send();
    },

    toggleFullscreen() {
      if (document.fullscreenElement) {
        document.exitFullscreen().catch(() => {});
      } else if (html.requestFullscreen) {
        html.requestFullscreen().catch(() => speaker.say("Full screen is not available here"));
      }
    },

    // Typing digits then Enter jumps to that slide; the number shows while typed.
    gotoTimer: 0,

    setGoto(digits) {
      this.goto = digits;
      clearTimeout(this.gotoTimer);
      this.ui.gotoBox.hidden = !digits;
      this.ui.gotoBox.textContent = digits ? `Go to slide ${digits}` : "";
      if (digits) this.gotoTimer = setTimeout(() => this.setGoto(""), GOTO_TIMEOUT);
    },

    // Esc closes the innermost thing first: a typed number, the blank screen, then
    // leaves presenting (the presenter view has nothing to leave).
    escape() {
      if (this.goto) this.setGoto("");
      else if (this.blank) this.setBlank(false);
      else if (this.presenting) this.leave();
    },
  };

  // --- theme: the stage's colours --------------------------------------------

  // Material scopes its palette variables to [data-md-color-scheme]: set on the stage,
  // it colours just the stage. "auto" (the default) follows Material's palette toggle.
  const theme = {
    apply(element) {
      const scheme = { dark: "slate", light: "default" }[deck.meta.theme];
      if (!scheme) return;
      element.setAttribute("data-md-color-scheme", scheme);
      // Material's palette CSS is only there when the site configures a palette: the
      // stage's own colours for a theme are in pgslides.css under this attribute.
      element.dataset.pgslidesTheme = deck.meta.theme;
    },

    clear(element) {
      element.removeAttribute("data-md-color-scheme");
      delete element.dataset.pgslidesTheme;
    },
  };

  // --- router: the URL is the state ------------------------------------------

  const router = {
    // #/N or #/N/S presents; #presenter/N[/S] is the presenter view.
    parse(hash) {
      let m = /^#\/(\d+)(?:\/(\d+))?\/?$/.exec(hash);
      if (m) return { view: "stage", index: Number(m[1]) - 1, step: m[2] === undefined ? 0 : Number(m[2]) };
      m = /^#presenter\/(\d+)(?:\/(\d+))?$/.exec(hash);
      if (m) return { view: "presenter", index: Number(m[1]) - 1, step: m[2] === undefined ? 0 : Number(m[2]) };
      return null;
    },

    hash() {
      const tail = stage.step > 0 ? `/${stage.step}` : "";
      if (stage.presenterView) return `#presenter/${stage.index + 1}${tail}`;
      if (stage.presenting) return `#/${stage.index + 1}${tail}`;
      return null;
    },

    write(how) {
      const hash = this.hash();
      if (hash === null || location.hash === hash) return;
      if (stage.presenterView || how === "replace") history.replaceState(null, "", hash);
      else if (how === "push") history.pushState(null, "", hash);
    },

    route() {
      const where = router.parse(location.hash);
      if (stage.presenterView) {
        if (where && where.view === "presenter") stage.go(where.index, where.step, { history: "replace" });
        return;
      }
      if (where && where.view === "stage") {
        if (stage.presenting) stage.go(where.index, where.step, { history: "none" });
        else stage.present(where.index, where.step, "none");
        const hash = router.hash();
        if (location.hash !== hash) history.replaceState(null, "", hash);
      } else if (stage.presenting) {
        stage.leave("none");
      }
    },
  };

  // --- windows: keeping every window of the deck in step ----------------------
  //
  // Two paths, used together: a BroadcastChannel named after the page (every
  // window of this deck on this origin), and postMessage between the opener and
  // the popup (works where BroadcastChannel does not, e.g. opaque file://
  // origins). Messages carry the sender's id and a sequence number, so a message
  // that arrives twice or late is ignored. Applying a remote state never sends.
  //
  // Who wins: a window opened at an explicit #/N or #/N/S keeps it and drives the
  // others; one opened without (and the presenter popup) asks and adopts.

  const windows = {
    id: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`,
    seq: 0,
    seen: new Map(),
    peers: new Set(),
    channel: null,
    adopted: null, // a presenting window's {index, step}, heard while this one is a handout

    key() {
      return `pgslides:${location.pathname}`;
    },

    post(message) {
      const full = { pgslides: this.key(), from: this.id, seq: (this.seq += 1), ...message };
      if (this.channel) {
        try {
          this.channel.postMessage(full);
        } catch {
          /* the channel is best effort; postMessage below still runs */
        }
      }
      for (const peer of this.peers) {
        if (!peer || peer.closed) {
          this.peers.delete(peer);
          continue;
        }
        try {
          peer.postMessage(full, "*"); // "*": a file:// origin is opaque ("null")
        } catch {
          this.peers.delete(peer);
        }
      }
    },

    send() {
      if (!stage.active) return;
      this.post({ type: "state", index: stage.index, step: stage.step, blank: stage.blank });
    },

    receive(data, source) {
      if (!data || data.pgslides !== this.key() || data.from === this.id) return;
      if ((this.seen.get(data.from) || 0) >= data.seq) return;
      this.seen.set(data.from, data.seq);
      if (source && source !== window) this.peers.add(source);
      if (data.type === "hello") {
        if (data.adopt !== false) this.send();
      } else if (data.type === "state" && stage.active) {
        stage.go(data.index, Number(data.step) || 0, { history: "replace", remote: true });
        stage.setBlank(Boolean(data.blank), { remote: true });
      } else if (data.type === "state") {
        // Only a presenting window sends its state: a handout presents from there (SPEC).
        this.adopted = { index: data.index, step: Number(data.step) || 0 };
      }
    },

    connect(explicit) {
      if (typeof BroadcastChannel === "function") {
        try {
          this.channel = new BroadcastChannel(this.key());
          this.channel.addEventListener("message", (e) => this.receive(e.data, null));
        } catch {
          this.channel = null;
        }
      }
      if (window.opener) this.peers.add(window.opener);
      window.addEventListener("message", (e) => this.receive(e.data, e.source));
      // A window that (re)loads says so: with an explicit position it tells the
      // others where it is; without, it asks where they are.
      this.post({ type: "hello", adopt: !explicit });
      if (explicit) this.send();
    },
  };

  // --- timer: elapsed time, and with a deck duration a countdown and pacing --------

  const timer = {
    running: true,
    started: Date.now(),
    elapsed: 0,

    key() {
      return `pgslides-timer:${location.pathname}`;
    },

    load() {
      try {
        const saved = JSON.parse(sessionStorage.getItem(this.key()) || "null");
        if (saved) Object.assign(this, { running: saved.running, started: saved.started, elapsed: saved.elapsed });
      } catch {
        /* storage may be off (file:// in some browsers): the timer starts fresh */
      }
    },

    save() {
      try {
        const { running, started, elapsed } = this;
        sessionStorage.setItem(this.key(), JSON.stringify({ running, started, elapsed }));
      } catch {
        /* see load */
      }
    },

    ms() {
      return this.elapsed + (this.running ? Date.now() - this.started : 0);
    },

    toggle() {
      if (this.running) {
        this.elapsed = this.ms();
        this.running = false;
      } else {
        this.started = Date.now();
        this.running = true;
      }
      this.save();
      presenter.tick();
    },

    reset() {
      this.elapsed = 0;
      this.started = Date.now();
      this.save();
      presenter.tick();
    },

    // "ahead", "on-time" or "behind": the share of the time used against the share of
    // the deck shown (steps count as parts of their slide), with 5% of slack.
    pace(durationS) {
      const used = this.ms() / 1000 / durationS;
      const n = steps.count(stage.index);
      const done = (stage.index + (n ? stage.step / (n + 1) : 0)) / deck.count;
      if (used > 1 || used > done + 0.05) return "behind";
      if (used < done - 0.05) return "ahead";
      return "on-time";
    },
  };

  function clock(totalS) {
    const t = Math.floor(Math.abs(totalS));
    const [h, m, s] = [Math.floor(t / 3600), Math.floor(t / 60) % 60, t % 60];
    return `${pad2(h)}:${pad2(m)}:${pad2(s)}`;
  }

  // --- presenter: the presenter view (this page, in a second window) ---------

  const presenter = {
    box: null,
    pv: {},
    notesSize: 20,
    popup: null, // the presenter window this audience window opened

    build() {
      const pv = this.pv;
      this.box = make("div", "pgslides-presenter pgslides-ui", {
        role: "region",
        "aria-label": "Presenter view",
        tabindex: "-1",
      });
      const bar = make("div", "pgslides-pv-bar");
      const button = (text, name) => make("button", "pgslides-pv-button", { type: "button", text, "aria-label": name });
      pv.prev = button("◀", "Previous step");
      pv.next = button("▶", "Next step");
      pv.count = make("span", "pgslides-pv-count");
      pv.step = make("span", "pgslides-pv-step");
      pv.elapsed = make("span", "pgslides-pv-elapsed", { role: "timer", "aria-label": "Elapsed time" });
      pv.remaining = make("span", "pgslides-pv-remaining", { role: "timer", "aria-label": "Time left" });
      pv.remaining.hidden = !deck.meta.durationS;
      pv.pause = make("button", "pgslides-pv-button", { type: "button" });
      pv.reset = make("button", "pgslides-pv-button", { type: "button", text: "Reset" });
      pv.clock = make("span", "pgslides-pv-clock", { "aria-label": "Time of day" });
      pv.status = make("span", "pgslides-pv-status");
      const timerGroup = make("span", "pgslides-pv-timer");
      timerGroup.append(pv.elapsed, pv.pause, pv.reset);
      bar.append(pv.prev, pv.count, pv.next, pv.step, pv.status, pv.remaining, timerGroup, pv.clock);

      const current = make("section", "pgslides-pv-current", { "aria-label": "Current slide" });
      pv.currentFrame = frames.make(null);
      current.appendChild(pv.currentFrame);
      const upcoming = make("section", "pgslides-pv-next", { "aria-label": "Next" });
      pv.nextHeading = make("h2", "pgslides-pv-heading", { text: "Next" });
      pv.nextFrame = frames.make(null);
      upcoming.append(pv.nextHeading, pv.nextFrame);
      const notes = make("section", "pgslides-pv-notes", { "aria-label": "Speaker notes" });
      pv.notes = make("div", "pgslides-pv-notes-scroll");
      notes.append(make("h2", "pgslides-pv-heading", { text: "Notes" }), pv.notes);

      this.box.append(bar, current, upcoming, notes);
      theme.apply(this.box);
      document.body.appendChild(this.box);

      pv.prev.addEventListener("click", () => stage.prev());
      pv.next.addEventListener("click", () => stage.next());
      pv.pause.addEventListener("click", () => timer.toggle());
      pv.reset.addEventListener("click", () => timer.reset());
      timer.load();
      this.tick();
      setInterval(() => this.tick(), 500);
    },

    tick() {
      if (!this.box) return;
      const pv = this.pv;
      pv.elapsed.textContent = clock(timer.ms() / 1000);
      pv.pause.textContent = timer.running ? "Pause" : "Resume";
      pv.pause.setAttribute("aria-pressed", timer.running ? "false" : "true");
      this.box.classList.toggle("is-paused", !timer.running);
      const now = new Date();
      pv.clock.textContent = `${pad2(now.getHours())}:${pad2(now.getMinutes())}`;
      const total = deck.meta.durationS;
      if (total) {
        const left = total - timer.ms() / 1000;
        pv.remaining.textContent = left >= 0 ? `${clock(left)} left` : `${clock(left)} over`;
        pv.remaining.dataset.pace = timer.pace(total);
      }
    },

    render() {
      const pv = this.pv;
      const i = stage.index;
      const n = steps.count(i);
      frames.show(pv.currentFrame, i, stage.step);
      const after = stage.upcoming();
      if (!after) {
        frames.show(pv.nextFrame, null);
        pv.nextHeading.textContent = "Next";
      } else {
        frames.show(pv.nextFrame, after.index, after.step);
        pv.nextHeading.textContent =
          after.index === i ? `Next: step ${after.step} of ${n}` : "Next: slide " + (after.index + 1);
      }
      const notes = deck.notes(i);
      if (!notes.childNodes.length) {
        notes.appendChild(make("p", "pgslides-pv-empty", { text: "No notes for this slide." }));
      }
      pv.notes.replaceChildren(notes);
      pv.notes.scrollTop = 0;
      pv.count.textContent = `${i + 1} / ${deck.count}`;
      pv.step.textContent = n ? `step ${stage.step} of ${n}` : "";
      pv.status.textContent = stage.blank ? "Screen blanked (b)" : "";
      this.box.classList.toggle("is-blank", stage.blank);
      this.scale();
      this.tick();
    },

    scale() {
      if (!this.box) return;
      frames.scale(this.pv.currentFrame);
      frames.scale(this.pv.nextFrame);
      // The frames' shift is measured in drawn pixels: measure again at the new scale.
      for (const frame of [this.pv.currentFrame, this.pv.nextFrame]) {
        const copy = frame.querySelector(".pgslides-clone");
        if (copy && copy.dataset.scrolls) {
          const shown = frame === this.pv.currentFrame ? stage.step : (stage.upcoming() || {}).step;
          steps.keepInView(copy, shown === undefined ? ALL : shown);
        }
      }
      this.box.style.setProperty("--pgslides-notes-size", `${this.notesSize}px`);
    },

    setNotesSize(px) {
      this.notesSize = clamp(px, 12, 48);
      this.scale();
    },

    start(i, step) {
      stage.presenterView = true;
      html.classList.add("pgslides-presenter-view");
      document.title = `Presenter: ${document.title}`;
      this.build();
      stage.index = -1;
      stage.go(i, step, { history: "replace", remote: true });
      this.box.focus({ preventScroll: true });
    },

    // The audience window opens (or refocuses) the presenter view.
    open() {
      if (this.popup && !this.popup.closed) {
        this.popup.focus();
        windows.send();
        return;
      }
      // A bare #hash resolves against this page's own URL (path and query kept),
      // wherever the site is hosted.
      const tail = stage.step > 0 ? `/${stage.step}` : "";
      const url = `#presenter/${stage.index + 1}${tail}`;
      this.popup = window.open(url, "pgslides-presenter", "popup,width=1280,height=800");
      if (this.popup) windows.peers.add(this.popup);
      else speaker.say("The presenter view was blocked: allow pop-ups for this page");
    },
  };

  // --- help: the key table, drawn from KEYS ---------------------------------

  const help = {
    dialog: null,
    isOpen: false,

    build() {
      this.dialog = make("dialog", "pgslides-help pgslides-ui md-typeset", {
        "aria-labelledby": "pgslides-help-title",
      });
      const table = make("table", "pgslides-keys");
      const body = make("tbody");
      for (const { keys, action } of KEYS) {
        const row = make("tr");
        row.append(make("th", "", { scope: "row", text: keys }), make("td", "", { text: action }));
        body.appendChild(row);
      }
      table.appendChild(body);
      const close = make("button", "md-button", { type: "button", text: "Close" });
      close.addEventListener("click", () => this.close());
      this.dialog.append(make("h2", "", { id: "pgslides-help-title", text: "Keys" }), table, close);
      this.dialog.addEventListener("close", () => {
        this.isOpen = false;
        html.classList.remove("pgslides-help-open");
      });
      document.body.appendChild(this.dialog);
    },

    toggle(on = !this.isOpen) {
      if (on === this.isOpen) return;
      if (on) {
        this.isOpen = true;
        html.classList.add("pgslides-help-open");
        if (this.dialog.showModal) this.dialog.showModal();
        else this.dialog.setAttribute("open", "");
      } else {
        this.close();
      }
    },

    close() {
      if (!this.isOpen) return;
      if (this.dialog.close) this.dialog.close();
      else this.dialog.removeAttribute("open");
      this.isOpen = false;
      html.classList.remove("pgslides-help-open");
    },
  };

  // --- overview: every slide as a thumbnail ----------------------------------

  const overview = {
    box: null,
    thumbs: [],
    selected: 0,
    isOpen: false,

    build() {
      this.box = make("div", "pgslides-overview pgslides-ui", {
        role: "dialog",
        "aria-modal": "true",
        "aria-label": "Slide overview",
      });
      const grid = make("ol", "pgslides-overview-grid");
      this.thumbs = deck.slides.map((_, i) => {
        const item = make("li");
        const button = make("button", "pgslides-thumb", { type: "button", "aria-label": deck.label(i) });
        button.append(frames.make(deck.clone(i)), make("span", "pgslides-thumb-number", { text: String(i + 1) }));
        button.addEventListener("click", () => this.pick(i));
        button.addEventListener("focus", () => this.select(i, false));
        item.appendChild(button);
        grid.appendChild(item);
        return button;
      });
      this.box.appendChild(grid);
      document.body.appendChild(this.box);
    },

    open() {
      if (!this.box) this.build();
      this.isOpen = true;
      html.classList.add("pgslides-overview-open");
      this.scale();
      this.select(stage.index);
      speaker.say("Overview: arrows choose a slide, Enter shows it");
    },

    close() {
      if (!this.isOpen) return;
      this.isOpen = false;
      html.classList.remove("pgslides-overview-open");
      if (stage.presenting) deck.article.focus({ preventScroll: true });
      else if (stage.presenterView) presenter.box.focus({ preventScroll: true });
    },

    scale() {
      if (!this.box || !this.isOpen) return;
      const first = this.thumbs[0].firstElementChild;
      this.box.style.setProperty("--pgslides-frame-scale", String(first.clientWidth / STAGE_W));
    },

    select(i, focus = true) {
      this.selected = clamp(i, 0, this.thumbs.length - 1);
      this.thumbs.forEach((t, n) => {
        t.classList.toggle("is-selected", n === this.selected);
        if (n === this.selected) t.setAttribute("aria-current", "true");
        else t.removeAttribute("aria-current");
      });
      if (focus) {
        this.thumbs[this.selected].focus({ preventScroll: true });
        this.thumbs[this.selected].scrollIntoView({ block: "nearest" });
      }
    },

    pick(i) {
      this.close();
      stage.go(i, 0);
    },

    // Up/down move by a row: the columns are however many thumbnails share the first row.
    columns() {
      const top = this.thumbs[0].offsetTop;
      const n = this.thumbs.findIndex((t) => t.offsetTop !== top);
      return n < 0 ? this.thumbs.length : n;
    },

    key(key) {
      const cols = this.columns();
      if (key === "ArrowRight") this.select(this.selected + 1);
      else if (key === "ArrowLeft") this.select(this.selected - 1);
      else if (key === "ArrowDown") this.select(this.selected + cols);
      else if (key === "ArrowUp") this.select(this.selected - cols);
      else if (key === "Home") this.select(0);
      else if (key === "End") this.select(this.thumbs.length - 1);
      else if (/^[0-9]$/.test(key)) stage.setGoto(stage.goto + key);
      else if (key === "Enter" || key === " ") {
        const target = stage.goto ? Number(stage.goto) - 1 : this.selected;
        stage.setGoto("");
        this.pick(target);
      } else if (key === "Escape" || key === "o") {
        if (stage.goto) stage.setGoto("");
        else this.close();
      } else if (key === "?") help.toggle(true);
      else return key !== "Tab";
      return true;
    },
  };

  // --- keyboard: KEYS → commands ---------------------------------------------

  const keyboard = {
    map: new Map(),

    build() {
      for (const row of KEYS) {
        for (const [key, command] of Object.entries(row.match)) {
          if (key === "0-9") for (let d = 0; d <= 9; d += 1) this.map.set(String(d), command);
          else this.map.set(key, command);
        }
      }
    },

    // What each command does on the stage (or in the presenter view); false: not taken.
    commands: {
      next: () => stage.next(),
      prev: () => stage.prev(),
      // At either end of the deck a whole-slide move does nothing (go() would clamp it onto
      // the same slide and reset its steps).
      nextSlide: () => stage.index + 1 < deck.count && stage.go(stage.index + 1, 0),
      prevSlide: () => stage.index > 0 && stage.go(stage.index - 1, ALL),
      first: () => stage.go(0, 0),
      last: () => stage.go(deck.count - 1, ALL),
      digit: (key) => stage.setGoto(stage.goto + key),
      gotoTyped: () => {
        if (!stage.goto) return false;
        const target = Number(stage.goto) - 1;
        stage.setGoto("");
        stage.go(target, 0);
        return true;
      },
      overview: () => overview.open(),
      blank: () => stage.setBlank(!stage.blank),
      fullscreen: () => stage.toggleFullscreen(),
      presenter: () => {
        // Taken in the presenter view too, so Material does not navigate away mid-talk.
        if (stage.presenting) presenter.open();
      },
      timer: () => (stage.presenterView ? timer.toggle() : false),
      resetTimer: () => (stage.presenterView ? timer.reset() : false),
      notesBigger: () => (stage.presenterView ? presenter.setNotesSize(presenter.notesSize + 2) : false),
      notesSmaller: () => (stage.presenterView ? presenter.setNotesSize(presenter.notesSize - 2) : false),
      present: () => {
        /* taken so Material does not navigate away mid-talk */
      },
      escape: () => stage.escape(),
      help: () => help.toggle(true),
    },

    // On the handout only these start something; every other key is Material's.
    handout: {
      present: () => stage.presentHere(),
      presenter: () => {
        stage.presentHere();
        presenter.open();
      },
      help: () => help.toggle(true),
    },

    name(e) {
      const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
      if (e.altKey) return `Alt+${key}`;
      if (e.shiftKey && key === " ") return "Shift+ ";
      return key;
    },

    // Capture phase on window: runs before Material's own shortcuts (which use
    // p, n, s, f and . for page navigation and search), so on a deck page our
    // keys win, and while presenting no key reaches Material at all.
    onKey(e) {
      if (e.defaultPrevented || e.ctrlKey || e.metaKey || isTyping(e.target)) return;
      const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
      const name = keyboard.name(e);
      if (e.altKey && !keyboard.map.has(name)) return; // Alt+… is the browser's
      const active = stage.active;
      let handled = true;
      if (help.isOpen) {
        if (key === "Escape" || key === "?" || key === "Enter") help.close();
        else handled = key !== "Tab";
      } else if (overview.isOpen) {
        handled = overview.key(key);
      } else if (active) {
        handled = keyboard.stageKey(name);
      } else {
        const command = keyboard.handout[keyboard.map.get(name)];
        handled = Boolean(command);
        if (command) command();
      }
      if (handled) e.preventDefault();
      if (handled || active || help.isOpen) e.stopPropagation();
    },

    stageKey(name) {
      if (name === "Backspace" && stage.goto) {
        stage.setGoto(stage.goto.slice(0, -1));
        return true;
      }
      const command = this.commands[this.map.get(name)];
      if (!command) return false;
      return command(name) !== false;
    },
  };

  // --- touch: a swipe is a press of next or previous ----------------------------

  const touch = {
    start: null,

    onStart(e) {
      const active = stage.active && !overview.isOpen && !help.isOpen;
      touch.start = active && e.touches.length === 1 ? { x: e.touches[0].clientX, y: e.touches[0].clientY } : null;
    },

    onEnd(e) {
      if (!touch.start || e.touches.length) return;
      const end = e.changedTouches[0];
      const dx = end.clientX - touch.start.x;
      const dy = end.clientY - touch.start.y;
      touch.start = null;
      if (Math.abs(dx) >= SWIPE_MIN && Math.abs(dx) > 1.5 * Math.abs(dy)) {
        if (dx < 0) stage.next();
        else stage.prev();
      }
    },
  };

  // --- resize ---------------------------------------------------------------

  const resize = {
    frame: 0,
    refit: 0,

    on() {
      cancelAnimationFrame(resize.frame);
      resize.frame = requestAnimationFrame(() => {
        stage.scale();
        presenter.scale();
        overview.scale();
      });
      // Fit depends on the stage only, but Material's rem sizes follow the window width.
      clearTimeout(resize.refit);
      resize.refit = setTimeout(refit, 150);
    },
  };

  function refit() {
    fit.all();
    if (stage.presenting) steps.keepInView(deck.slides[stage.index], stage.step);
    if (stage.presenterView) presenter.render();
  }

  // --- start ----------------------------------------------------------------

  function start() {
    if (!deck.load()) return;
    html.classList.add("pgslides-deck");
    if (printer.notesRequested()) html.classList.add("pgslides-print-notes");
    if (printer.stepsRequested()) html.classList.add("pgslides-print-steps");

    steps.number();
    stage.buildUi();
    help.build();
    keyboard.build();
    fit.all();

    const printClasses = () =>
      ["pgslides-print-notes", "pgslides-print-steps"].map((c) => html.classList.contains(c)).join();
    let printed = printClasses();
    // Whoever adds the print classes later (a PDF tool, say) gets fitted notes and step pages.
    new MutationObserver(() => {
      const now = printClasses();
      if (now !== printed) {
        printed = now;
        fit.all();
      }
    }).observe(html, { attributes: true, attributeFilter: ["class"] });

    window.addEventListener("keydown", keyboard.onKey, true);
    window.addEventListener("hashchange", router.route);
    window.addEventListener("popstate", router.route);
    window.addEventListener("resize", resize.on);
    document.addEventListener("touchstart", touch.onStart, { passive: true });
    document.addEventListener("touchend", touch.onEnd, { passive: true });
    window.addEventListener("beforeprint", () => fit.all());

    const where = router.parse(location.hash);
    if (where && where.view === "presenter") presenter.start(where.index, where.step);
    else router.route();
    windows.connect(Boolean(where && where.view === "stage"));

    // For tests and tools: the key table, where the stage is, and a way to move it.
    window.pgslides = {
      keys: KEYS,
      position: () => stage.position(),
      go: (slide, step = 0) => stage.go(slide - 1, step === "all" ? ALL : step),
      present: (slide = 1, step = 0) => stage.present(slide - 1, step === "all" ? ALL : step),
    };
    html.dataset.pgslides = "ready";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
