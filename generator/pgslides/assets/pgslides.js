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
 *                URL: #/N (1-based), one history entry per slide.
 *   Overview,    clones of the sections shown in "frames": a 1280×720 stage
 *   presenter    scaled into a box. The originals never move.
 *   view         The presenter view is this same page in a second window,
 *                opened at #presenter/N; the windows keep each other in step
 *                (BroadcastChannel + postMessage between opener and popup).
 *   Print        one 13.333in × 7.5in page (= 1280×720 CSS px) per slide,
 *                printed from clones in div.pgslides-print; with
 *                html.pgslides-print-notes (#print-notes or ?print-notes in
 *                the URL) each page shows the slide smaller with its notes.
 *
 * Fit: a slide whose content is bigger than the stage is scaled down. It is
 * measured on the print clones (laid out exactly like the stage, off screen)
 * and stored as CSS variables on the section, so presenting, frames and print
 * all draw the same fitted slide. Slides that needed it get data-fit-scale.
 */
(() => {
  "use strict";

  const STAGE_W = 1280;
  const STAGE_H = 720;
  // Bisection bounds for fitting: no slide is drawn smaller than this, and ten
  // halvings bring the scale within a thousandth of the largest that fits.
  const MIN_FIT = 0.05;
  const FIT_PASSES = 10;
  const SWIPE_MIN = 40; // px a finger must travel sideways to change slide
  const GOTO_TIMEOUT = 3000; // ms a typed slide number waits for Enter
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

  function pad2(n) {
    return String(n).padStart(2, "0");
  }

  // --- the deck ---------------------------------------------------------------

  let article = null;
  let slides = [];
  let titles = [];

  const state = {
    index: 0,
    presenting: false, // this window shows the stage
    presenterView: false, // this window is the presenter view
    blank: false,
    overview: false,
    help: false,
    goto: "", // digits typed so far
  };

  function slideTitle(section) {
    const heading = section.querySelector(".slide-body h1, .slide-body h2, .slide-body h3");
    return heading ? heading.textContent.trim() : "";
  }

  function label(i) {
    const title = titles[i] ? `: ${titles[i]}` : "";
    return `Slide ${i + 1} of ${slides.length}${title}`;
  }

  // A copy of a slide for frames and print: a <div class="slide"> (never a second
  // section.slide), without ids, notes or Material's copy buttons, hidden from
  // assistive technology (the original is the accessible one).
  function cloneSlide(i) {
    const section = slides[i];
    const copy = make("div", `${section.className} pgslides-clone`, { "aria-hidden": "true" });
    copy.classList.remove("pgslides-current");
    copy.dataset.index = String(i);
    copyFit(section, copy);
    const body = section.querySelector(".slide-body");
    if (body) copy.appendChild(body.cloneNode(true));
    detach(copy);
    for (const node of copy.querySelectorAll(".md-code__nav, .md-clipboard")) node.remove();
    copy.inert = true;
    return copy;
  }

  function notesOf(i) {
    const details = slides[i].querySelector(".notes details");
    const box = make("div", "pgslides-notes-body md-typeset");
    if (!details) return box;
    for (const child of details.childNodes) {
      if (child.nodeName !== "SUMMARY") box.appendChild(child.cloneNode(true));
    }
    detach(box);
    return box;
  }

  // A copy must not share ids with the original, nor its radio groups: content tabs are
  // radio inputs by name, and a copy's checked input would uncheck the original's tab.
  function detach(copy) {
    for (const node of copy.querySelectorAll("[id]")) node.removeAttribute("id");
    for (const node of copy.querySelectorAll("input[name]")) node.removeAttribute("name");
  }

  // A frame: a 1280×720 stage scaled (CSS variable) into whatever box holds it.
  function makeFrame(content) {
    const frame = make("div", "pgslides-frame");
    const stage = make("div", "pgslides-frame-stage pgslides-staged md-typeset");
    if (content) stage.appendChild(content);
    frame.appendChild(stage);
    return frame;
  }

  function scaleFrame(frame) {
    const scale = Math.min(frame.clientWidth / STAGE_W, frame.clientHeight / STAGE_H);
    if (scale > 0) frame.style.setProperty("--pgslides-frame-scale", String(scale));
  }

  function showInFrame(frame, i) {
    const stage = frame.firstElementChild;
    const end = () => make("div", "pgslides-frame-end", { text: "End of the deck" });
    stage.replaceChildren(i === null ? end() : cloneSlide(i));
  }

  // --- fit ------------------------------------------------------------------

  // Scale each item's content down until it fits its holder's content box.
  // The content is laid out wider (availW / scale) and drawn at that scale, so
  // text rewraps to use the room and a wide table ends exactly at the edge.
  // Wider layouts are shorter (columns rewrap), so the largest scale that fits
  // is found by bisection rather than by shrinking once. Reads and writes are
  // batched: one layout per pass for all items.
  function fitBoxes(items) {
    for (const item of items) setFit(item.holder, 1, 0);
    const avail = items.map(({ holder }) => {
      const style = getComputedStyle(holder);
      return {
        w: holder.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
        h: holder.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom),
      };
    });
    const fits = (i, scale) => {
      const { content } = items[i];
      const room = avail[i];
      return (
        content.scrollWidth * scale <= room.w + 0.5 && content.scrollHeight * scale <= room.h + 0.5
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
      setFit(item.holder, scale, avail[i].w / scale);
      return scale;
    });
  }

  function setFit(holder, scale, width) {
    if (scale >= 1) {
      holder.style.removeProperty("--pgslides-fit");
      holder.style.removeProperty("--pgslides-fit-width");
    } else {
      holder.style.setProperty("--pgslides-fit", String(scale));
      holder.style.setProperty("--pgslides-fit-width", `${width.toFixed(2)}px`);
    }
  }

  function copyFit(from, to) {
    for (const name of ["--pgslides-fit", "--pgslides-fit-width"]) {
      const value = from.style.getPropertyValue(name);
      if (value) to.style.setProperty(name, value);
      else to.style.removeProperty(name);
    }
  }

  // Fit every slide (and, for printing with notes, every page's notes), measured
  // on fresh print clones (so a changed slide is measured as it is now), then
  // hand the result to the sections and to every other clone.
  function fitAll() {
    buildPrint();
    const box = printBox;
    box.classList.add("pgslides-measuring");
    const pages = Array.from(box.children);
    const slideItems = pages.map((page) => {
      const holder = page.querySelector(".slide");
      return { holder, content: holder.querySelector(".slide-body") || holder };
    });
    const scales = fitBoxes(slideItems);
    if (html.classList.contains("pgslides-print-notes")) {
      fitBoxes(
        pages.map((page) => {
          const holder = page.querySelector(".pgslides-print-notes-box");
          return { holder, content: holder.firstElementChild };
        }),
      );
    }
    box.classList.remove("pgslides-measuring");
    slides.forEach((section, i) => {
      copyFit(slideItems[i].holder, section);
      if (scales[i] < 1) section.dataset.fitScale = scales[i].toFixed(3);
      else delete section.dataset.fitScale;
    });
    for (const copy of document.querySelectorAll(".pgslides-clone")) {
      copyFit(slides[Number(copy.dataset.index)], copy);
    }
  }

  // --- print ----------------------------------------------------------------

  // One page per slide: the slide in a frame, its number, and its notes (shown
  // only with html.pgslides-print-notes). Built up front because page.pdf() and
  // some browsers never fire beforeprint.
  let printBox = null;

  function buildPrint() {
    const old = printBox;
    printBox = make("div", "pgslides-print pgslides-ui", { "aria-hidden": "true" });
    slides.forEach((section, i) => {
      const page = make("div", "pgslides-print-page");
      const notes = make("div", "pgslides-print-notes-box");
      notes.appendChild(notesOf(i));
      page.append(
        makeFrame(cloneSlide(i)),
        make("div", "pgslides-print-number", { text: `${i + 1} / ${slides.length}` }),
        notes,
      );
      printBox.appendChild(page);
    });
    if (old) old.replaceWith(printBox);
    else document.body.appendChild(printBox);
  }

  function printNotesRequested() {
    const query = new URLSearchParams(location.search);
    return location.hash === "#print-notes" || query.has("print-notes");
  }

  // --- announcements --------------------------------------------------------

  let live = null;

  function announce(text) {
    // Polite: the slide change is read after whatever is being read now.
    live.textContent = text;
  }

  // --- presenting -----------------------------------------------------------

  let toolbar = null;
  let presentButton = null;
  let hud = null;
  let counter = null;
  let gotoBox = null;
  let blankScreen = null;

  function buildHandoutUi() {
    toolbar = make("div", "pgslides-toolbar");
    presentButton = make("button", "md-button md-button--primary pgslides-present", {
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
    presentButton.addEventListener("click", () => present(0));
    presenterButton.addEventListener("click", () => {
      present(0);
      openPresenter();
    });
    hint.addEventListener("click", () => toggleHelp(true));
    slides[0].before(toolbar);
  }

  function buildStageUi() {
    live = make("div", "pgslides-live pgslides-sr-only pgslides-ui", {
      "aria-live": "polite",
      "aria-atomic": "true",
    });
    hud = make("div", "pgslides-hud pgslides-ui", { "aria-hidden": "true" });
    const progress = make("div", "pgslides-progress");
    progress.appendChild(make("div", "pgslides-progress-bar"));
    counter = make("div", "pgslides-counter");
    hud.append(progress, counter);
    gotoBox = make("div", "pgslides-goto pgslides-ui", { "aria-live": "polite" });
    gotoBox.hidden = true;
    blankScreen = make("div", "pgslides-blank-screen pgslides-ui");
    document.body.append(live, hud, gotoBox, blankScreen);
  }

  // The slide whose card is in view: where `p` starts presenting from.
  function slideInView() {
    const line = window.innerHeight * 0.3;
    const i = slides.findIndex((s) => s.getBoundingClientRect().bottom > line);
    return i < 0 ? slides.length - 1 : i;
  }

  function present(i, how = "push") {
    if (state.presenting) {
      go(i, { history: how });
      return;
    }
    state.presenting = true;
    html.classList.add("pgslides-presenting");
    article.classList.add("pgslides-staged");
    article.tabIndex = -1;
    scaleStage();
    state.index = -1; // force a full render
    go(i, { history: how, announcePrefix: "Presenting. " });
    article.focus({ preventScroll: true });
  }

  function leave(how = "push") {
    if (!state.presenting) return;
    closeHelp();
    closeOverview();
    setGoto("");
    setBlank(false);
    state.presenting = false;
    html.classList.remove("pgslides-presenting");
    article.classList.remove("pgslides-staged");
    article.removeAttribute("tabindex");
    for (const s of slides) s.classList.remove("pgslides-current");
    if (document.fullscreenElement && document.exitFullscreen) document.exitFullscreen().catch(() => {});
    if (how === "push") history.pushState(null, "", location.pathname + location.search);
    // Back on the handout at the slide we left, focus on the Present button.
    slides[state.index].scrollIntoView({ block: "start" });
    presentButton.focus({ preventScroll: true });
    announce("Left the presentation");
  }

  function scaleStage() {
    const scale = Math.min(html.clientWidth / STAGE_W, html.clientHeight / STAGE_H);
    html.style.setProperty("--pgslides-scale", String(scale));
  }

  // Show slide i. history: "push" (a new entry per slide, so Back steps back),
  // "replace", or "none" (we are following the URL already).
  function go(i, { history: how = "push", remote = false, announcePrefix = "" } = {}) {
    const next = clamp(Number.isFinite(i) ? i : 0, 0, slides.length - 1);
    const changed = next !== state.index;
    state.index = next;
    if (state.presenting) {
      slides.forEach((s, n) => s.classList.toggle("pgslides-current", n === next));
      const focused = document.activeElement;
      if (focused && article.contains(focused) && !slides[next].contains(focused)) {
        article.focus({ preventScroll: true });
      }
      hud.style.setProperty("--pgslides-progress", String((next + 1) / slides.length));
      counter.textContent = `${next + 1} / ${slides.length}`;
    }
    if (state.presenterView) renderPresenter();
    if (state.overview) selectThumb(next);
    writeHash(how);
    if (changed) {
      announce(announcePrefix + label(next));
      if (!remote) sendState();
    }
  }

  function writeHash(how) {
    let hash = null;
    if (state.presenterView) hash = `#presenter/${state.index + 1}`;
    else if (state.presenting) hash = `#/${state.index + 1}`;
    if (hash === null || location.hash === hash) return;
    if (state.presenterView || how === "replace") history.replaceState(null, "", hash);
    else if (how === "push") history.pushState(null, "", hash);
  }

  // The URL is the state: #/N presents slide N; anything else is the handout.
  function route() {
    if (state.presenterView) {
      const m = /^#presenter\/(\d+)$/.exec(location.hash);
      if (m) go(Number(m[1]) - 1, { history: "replace" });
      return;
    }
    const m = /^#\/(\d+)\/?$/.exec(location.hash);
    if (m) {
      const i = clamp(Number(m[1]) - 1, 0, slides.length - 1);
      if (state.presenting) go(i, { history: "none" });
      else present(i, "none");
      if (location.hash !== `#/${i + 1}`) history.replaceState(null, "", `#/${i + 1}`);
    } else if (state.presenting) {
      leave("none");
    }
  }

  function setBlank(on, { remote = false } = {}) {
    if (state.blank === on) return;
    state.blank = on;
    html.classList.toggle("pgslides-blank", on);
    if (state.presenterView) renderPresenter();
    announce(on ? "Screen blanked" : "Screen shown");
    if (!remote) sendState();
  }

  function toggleFullscreen() {
    if (document.fullscreenElement) {
      document.exitFullscreen().catch(() => {});
    } else if (html.requestFullscreen) {
      html.requestFullscreen().catch(() => announce("Full screen is not available here"));
    }
  }

  // Typing digits then Enter jumps to that slide; the number shows while typed.
  let gotoTimer = 0;

  function setGoto(digits) {
    state.goto = digits;
    clearTimeout(gotoTimer);
    gotoBox.hidden = !digits;
    gotoBox.textContent = digits ? `Go to slide ${digits}` : "";
    if (digits) gotoTimer = setTimeout(() => setGoto(""), GOTO_TIMEOUT);
  }

  // --- help -----------------------------------------------------------------

  const KEYS = [
    ["→ ↓ Space PageDown n", "next slide"],
    ["← ↑ PageUp Backspace", "previous slide"],
    ["Home / End", "first / last slide"],
    ["number, then Enter", "go to that slide"],
    ["o", "overview (arrows and Enter pick a slide)"],
    ["b or .", "blank the screen"],
    ["f", "full screen"],
    ["s", "presenter view: notes, next slide, timer"],
    ["t / r", "presenter view: pause / reset the timer"],
    ["+ / -", "presenter view: bigger / smaller notes"],
    ["p", "present (from the handout)"],
    ["Esc", "close this, the overview, or leave"],
    ["?", "this help"],
  ];

  let helpDialog = null;

  function buildHelp() {
    helpDialog = make("dialog", "pgslides-help pgslides-ui md-typeset", {
      "aria-labelledby": "pgslides-help-title",
    });
    const table = make("table", "pgslides-keys");
    const body = make("tbody");
    for (const [keys, action] of KEYS) {
      const row = make("tr");
      const cell = make("th", "", { scope: "row" });
      cell.textContent = keys;
      row.append(cell, make("td", "", { text: action }));
      body.appendChild(row);
    }
    table.appendChild(body);
    const close = make("button", "md-button", { type: "button", text: "Close" });
    close.addEventListener("click", closeHelp);
    helpDialog.append(make("h2", "", { id: "pgslides-help-title", text: "Keys" }), table, close);
    helpDialog.addEventListener("close", () => {
      state.help = false;
      html.classList.remove("pgslides-help-open");
    });
    document.body.appendChild(helpDialog);
  }

  function toggleHelp(on = !state.help) {
    if (on === state.help) return;
    if (on) {
      state.help = true;
      html.classList.add("pgslides-help-open");
      if (helpDialog.showModal) helpDialog.showModal();
      else helpDialog.setAttribute("open", "");
    } else {
      closeHelp();
    }
  }

  function closeHelp() {
    if (!state.help) return;
    if (helpDialog.close) helpDialog.close();
    else helpDialog.removeAttribute("open");
    state.help = false;
    html.classList.remove("pgslides-help-open");
  }

  // --- overview -------------------------------------------------------------

  let overview = null;
  let thumbs = [];
  let selected = 0;

  function buildOverview() {
    overview = make("div", "pgslides-overview pgslides-ui", {
      role: "dialog",
      "aria-modal": "true",
      "aria-label": "Slide overview",
    });
    const grid = make("ol", "pgslides-overview-grid");
    thumbs = slides.map((_, i) => {
      const item = make("li");
      const button = make("button", "pgslides-thumb", { type: "button", "aria-label": label(i) });
      const frame = makeFrame(cloneSlide(i));
      button.append(frame, make("span", "pgslides-thumb-number", { text: String(i + 1) }));
      button.addEventListener("click", () => pickThumb(i));
      button.addEventListener("focus", () => selectThumb(i, false));
      item.appendChild(button);
      grid.appendChild(item);
      return button;
    });
    overview.appendChild(grid);
    document.body.appendChild(overview);
  }

  function openOverview() {
    if (!overview) buildOverview();
    state.overview = true;
    html.classList.add("pgslides-overview-open");
    scaleOverview();
    selectThumb(state.index);
    announce("Overview: arrows choose a slide, Enter shows it");
  }

  function closeOverview() {
    if (!state.overview) return;
    state.overview = false;
    html.classList.remove("pgslides-overview-open");
    if (state.presenting) article.focus({ preventScroll: true });
    else if (state.presenterView) presenterBox.focus({ preventScroll: true });
  }

  function scaleOverview() {
    if (!overview || !state.overview) return;
    const first = thumbs[0].firstElementChild;
    overview.style.setProperty("--pgslides-frame-scale", String(first.clientWidth / STAGE_W));
  }

  function selectThumb(i, focus = true) {
    selected = clamp(i, 0, thumbs.length - 1);
    thumbs.forEach((t, n) => {
      t.classList.toggle("is-selected", n === selected);
      if (n === selected) t.setAttribute("aria-current", "true");
      else t.removeAttribute("aria-current");
    });
    if (focus) {
      thumbs[selected].focus({ preventScroll: true });
      thumbs[selected].scrollIntoView({ block: "nearest" });
    }
  }

  function pickThumb(i) {
    closeOverview();
    go(i);
  }

  // Up/down move by a row: the columns are however many thumbnails share the first row.
  function overviewColumns() {
    const top = thumbs[0].offsetTop;
    const n = thumbs.findIndex((t) => t.offsetTop !== top);
    return n < 0 ? thumbs.length : n;
  }

  // --- presenter view -------------------------------------------------------

  let presenterBox = null;
  const pv = {};
  const timer = { running: true, started: Date.now(), elapsed: 0 };
  let notesSize = 20;

  function timerKey() {
    return `pgslides-timer:${location.pathname}`;
  }

  function loadTimer() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(timerKey()) || "null");
      if (saved) Object.assign(timer, saved);
    } catch {
      /* storage may be off (file:// in some browsers): the timer starts fresh */
    }
  }

  function saveTimer() {
    try {
      sessionStorage.setItem(timerKey(), JSON.stringify(timer));
    } catch {
      /* see loadTimer */
    }
  }

  function elapsedMs() {
    return timer.elapsed + (timer.running ? Date.now() - timer.started : 0);
  }

  function toggleTimer() {
    if (timer.running) {
      timer.elapsed = elapsedMs();
      timer.running = false;
    } else {
      timer.started = Date.now();
      timer.running = true;
    }
    saveTimer();
    tick();
  }

  function resetTimer() {
    timer.elapsed = 0;
    timer.started = Date.now();
    saveTimer();
    tick();
  }

  function tick() {
    if (!presenterBox) return;
    const total = Math.floor(elapsedMs() / 1000);
    const [h, m, s] = [Math.floor(total / 3600), Math.floor(total / 60) % 60, total % 60];
    pv.elapsed.textContent = `${pad2(h)}:${pad2(m)}:${pad2(s)}`;
    pv.pause.textContent = timer.running ? "Pause" : "Resume";
    pv.pause.setAttribute("aria-pressed", timer.running ? "false" : "true");
    presenterBox.classList.toggle("is-paused", !timer.running);
    const now = new Date();
    pv.clock.textContent = `${pad2(now.getHours())}:${pad2(now.getMinutes())}`;
  }

  function buildPresenter() {
    presenterBox = make("div", "pgslides-presenter pgslides-ui", {
      role: "region",
      "aria-label": "Presenter view",
      tabindex: "-1",
    });
    const bar = make("div", "pgslides-pv-bar");
    const button = (text, name) => make("button", "pgslides-pv-button", { type: "button", text, "aria-label": name });
    pv.prev = button("◀", "Previous slide");
    pv.next = button("▶", "Next slide");
    pv.count = make("span", "pgslides-pv-count");
    pv.elapsed = make("span", "pgslides-pv-elapsed", { role: "timer", "aria-label": "Elapsed time" });
    pv.pause = make("button", "pgslides-pv-button", { type: "button" });
    pv.reset = make("button", "pgslides-pv-button", { type: "button", text: "Reset" });
    pv.clock = make("span", "pgslides-pv-clock", { "aria-label": "Time of day" });
    pv.status = make("span", "pgslides-pv-status");
    const timerGroup = make("span", "pgslides-pv-timer");
    timerGroup.append(pv.elapsed, pv.pause, pv.reset);
    bar.append(pv.prev, pv.count, pv.next, pv.status, timerGroup, pv.clock);

    const current = make("section", "pgslides-pv-current", { "aria-label": "Current slide" });
    pv.currentFrame = makeFrame(null);
    current.appendChild(pv.currentFrame);
    const upcoming = make("section", "pgslides-pv-next", { "aria-label": "Next slide" });
    pv.nextFrame = makeFrame(null);
    upcoming.append(make("h2", "pgslides-pv-heading", { text: "Next" }), pv.nextFrame);
    const notes = make("section", "pgslides-pv-notes", { "aria-label": "Speaker notes" });
    pv.notes = make("div", "pgslides-pv-notes-scroll");
    notes.append(make("h2", "pgslides-pv-heading", { text: "Notes" }), pv.notes);

    presenterBox.append(bar, current, upcoming, notes);
    document.body.appendChild(presenterBox);

    pv.prev.addEventListener("click", () => go(state.index - 1));
    pv.next.addEventListener("click", () => go(state.index + 1));
    pv.pause.addEventListener("click", toggleTimer);
    pv.reset.addEventListener("click", resetTimer);
    loadTimer();
    tick();
    setInterval(tick, 500);
  }

  function renderPresenter() {
    const i = state.index;
    showInFrame(pv.currentFrame, i);
    showInFrame(pv.nextFrame, i + 1 < slides.length ? i + 1 : null);
    const notes = notesOf(i);
    if (!notes.childNodes.length) {
      notes.appendChild(make("p", "pgslides-pv-empty", { text: "No notes for this slide." }));
    }
    pv.notes.replaceChildren(notes);
    pv.notes.scrollTop = 0;
    pv.count.textContent = `${i + 1} / ${slides.length}`;
    pv.status.textContent = state.blank ? "Screen blanked (b)" : "";
    presenterBox.classList.toggle("is-blank", state.blank);
    scalePresenter();
  }

  function scalePresenter() {
    if (!presenterBox) return;
    scaleFrame(pv.currentFrame);
    scaleFrame(pv.nextFrame);
    presenterBox.style.setProperty("--pgslides-notes-size", `${notesSize}px`);
  }

  function startPresenterView(i) {
    state.presenterView = true;
    html.classList.add("pgslides-presenter-view");
    document.title = `Presenter: ${document.title}`;
    buildPresenter();
    state.index = -1;
    go(i, { history: "replace", remote: true });
    presenterBox.focus({ preventScroll: true });
  }

  // The audience window opens (or refocuses) the presenter view.
  let presenterWindow = null;

  function openPresenter() {
    if (presenterWindow && !presenterWindow.closed) {
      presenterWindow.focus();
      sendState();
      return;
    }
    // A bare #hash resolves against this page's own URL (path and query kept),
    // wherever the site is hosted.
    const url = `#presenter/${state.index + 1}`;
    presenterWindow = window.open(url, "pgslides-presenter", "popup,width=1280,height=800");
    if (presenterWindow) link.peers.add(presenterWindow);
    else announce("The presenter view was blocked: allow pop-ups for this page");
  }

  // --- keeping windows in step ------------------------------------------------
  //
  // Two paths, used together: a BroadcastChannel named after the page (every
  // window of this deck on this origin), and postMessage between the opener and
  // the popup (works where BroadcastChannel does not, e.g. opaque file://
  // origins). Messages carry the sender's id and a sequence number, so a message
  // that arrives twice or late is ignored. Applying a remote state never sends.

  const link = {
    id: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`,
    seq: 0,
    seen: new Map(),
    peers: new Set(),
    channel: null,
  };

  function deckKey() {
    return `pgslides:${location.pathname}`;
  }

  function post(message) {
    const full = { pgslides: deckKey(), from: link.id, seq: (link.seq += 1), ...message };
    if (link.channel) {
      try {
        link.channel.postMessage(full);
      } catch {
        /* the channel is best effort; postMessage below still runs */
      }
    }
    for (const peer of link.peers) {
      if (!peer || peer.closed) {
        link.peers.delete(peer);
        continue;
      }
      try {
        peer.postMessage(full, "*"); // "*": a file:// origin is opaque ("null")
      } catch {
        link.peers.delete(peer);
      }
    }
  }

  function sendState() {
    if (!state.presenting && !state.presenterView) return;
    post({ type: "state", index: state.index, blank: state.blank });
  }

  function receive(data, source) {
    if (!data || data.pgslides !== deckKey() || data.from === link.id) return;
    if ((link.seen.get(data.from) || 0) >= data.seq) return;
    link.seen.set(data.from, data.seq);
    if (source && source !== window) link.peers.add(source);
    if (data.type === "hello") {
      sendState();
    } else if (data.type === "state" && (state.presenting || state.presenterView)) {
      go(data.index, { history: "replace", remote: true });
      setBlank(Boolean(data.blank), { remote: true });
    }
  }

  function connect() {
    if (typeof BroadcastChannel === "function") {
      try {
        link.channel = new BroadcastChannel(deckKey());
        link.channel.addEventListener("message", (e) => receive(e.data, null));
      } catch {
        link.channel = null;
      }
    }
    if (window.opener) link.peers.add(window.opener);
    window.addEventListener("message", (e) => receive(e.data, e.source));
    // A window that (re)loads asks the others where they are.
    post({ type: "hello" });
  }

  // --- keys -----------------------------------------------------------------

  const NEXT = new Set(["ArrowRight", "ArrowDown", "PageDown", "n", " "]);
  const PREV = new Set(["ArrowLeft", "ArrowUp", "PageUp", "Backspace"]);

  // Capture phase on window: runs before Material's own shortcuts (which use
  // p, n, s, f and . for page navigation and search), so on a deck page our
  // keys win, and while presenting no key reaches Material at all.
  function onKey(e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    const active = state.presenting || state.presenterView;
    let handled = true;
    if (state.help) {
      if (key === "Escape" || key === "?" || key === "Enter") closeHelp();
      else handled = key !== "Tab";
    } else if (state.overview) {
      handled = overviewKey(key);
    } else if (active) {
      handled = stageKey(key, e.shiftKey);
    } else {
      handled = handoutKey(key);
    }
    if (handled) e.preventDefault();
    if (handled || active || state.help) e.stopPropagation();
  }

  function handoutKey(key) {
    if (key === "p") present(slideInView());
    else if (key === "s") {
      present(slideInView());
      openPresenter();
    } else if (key === "?") toggleHelp(true);
    else return false;
    return true;
  }

  function stageKey(key, shift) {
    if (/^[0-9]$/.test(key)) setGoto(state.goto + key);
    else if (key === "Enter" && state.goto) {
      const target = Number(state.goto) - 1;
      setGoto("");
      go(target);
    } else if (key === "Backspace" && state.goto) setGoto(state.goto.slice(0, -1));
    else if (key === " " && shift) go(state.index - 1);
    else if (NEXT.has(key)) go(state.index + 1);
    else if (PREV.has(key)) go(state.index - 1);
    else if (key === "Home") go(0);
    else if (key === "End") go(slides.length - 1);
    else if (key === "o") openOverview();
    else if (key === "b" || key === ".") setBlank(!state.blank);
    else if (key === "f") toggleFullscreen();
    else if (key === "?") toggleHelp(true);
    else if (key === "Escape") escape();
    else if (key === "s" && state.presenting) openPresenter();
    else if (key === "t" && state.presenterView) toggleTimer();
    else if (key === "r" && state.presenterView) resetTimer();
    else if ((key === "+" || key === "=") && state.presenterView) setNotesSize(notesSize + 2);
    else if (key === "-" && state.presenterView) setNotesSize(notesSize - 2);
    else if (key === "p" || key === "s") {
      /* taken so Material does not navigate away mid-talk */
    } else return false;
    return true;
  }

  // Esc closes the innermost thing first: a typed number, the blank screen, then
  // leaves presenting (the presenter view has nothing to leave).
  function escape() {
    if (state.goto) setGoto("");
    else if (state.blank) setBlank(false);
    else if (state.presenting) leave();
  }

  function overviewKey(key) {
    const cols = overviewColumns();
    if (key === "ArrowRight") selectThumb(selected + 1);
    else if (key === "ArrowLeft") selectThumb(selected - 1);
    else if (key === "ArrowDown") selectThumb(selected + cols);
    else if (key === "ArrowUp") selectThumb(selected - cols);
    else if (key === "Home") selectThumb(0);
    else if (key === "End") selectThumb(thumbs.length - 1);
    else if (/^[0-9]$/.test(key)) setGoto(state.goto + key);
    else if (key === "Enter" || key === " ") {
      const target = state.goto ? Number(state.goto) - 1 : selected;
      setGoto("");
      pickThumb(target);
    } else if (key === "Escape" || key === "o") {
      if (state.goto) setGoto("");
      else closeOverview();
    } else if (key === "?") toggleHelp(true);
    else return key !== "Tab";
    return true;
  }

  function setNotesSize(px) {
    notesSize = clamp(px, 12, 48);
    scalePresenter();
  }

  // --- touch ------------------------------------------------------------------

  let touch = null;

  function onTouchStart(e) {
    const active = (state.presenting || state.presenterView) && !state.overview && !state.help;
    touch = active && e.touches.length === 1 ? { x: e.touches[0].clientX, y: e.touches[0].clientY } : null;
  }

  function onTouchEnd(e) {
    if (!touch || e.touches.length) return;
    const end = e.changedTouches[0];
    const dx = end.clientX - touch.x;
    const dy = end.clientY - touch.y;
    touch = null;
    if (Math.abs(dx) >= SWIPE_MIN && Math.abs(dx) > 1.5 * Math.abs(dy)) go(state.index + (dx < 0 ? 1 : -1));
  }

  // --- resize ---------------------------------------------------------------

  let resizeFrame = 0;
  let refitTimer = 0;

  function onResize() {
    cancelAnimationFrame(resizeFrame);
    resizeFrame = requestAnimationFrame(() => {
      scaleStage();
      scalePresenter();
      scaleOverview();
    });
    // Fit depends on the stage only, but Material's rem sizes follow the window width.
    clearTimeout(refitTimer);
    refitTimer = setTimeout(fitAll, 150);
  }

  // --- start ----------------------------------------------------------------

  function start() {
    article = document.querySelector("article.md-content__inner");
    slides = article ? Array.from(article.querySelectorAll("section.slide")) : [];
    if (!slides.length) return;
    html.classList.add("pgslides-deck");
    titles = slides.map(slideTitle);
    for (const s of slides) {
      // Title slides (a level-1 heading) are centred on the stage.
      if (s.querySelector(".slide-body h1")) s.classList.add("pgslides-title");
    }
    if (printNotesRequested()) html.classList.add("pgslides-print-notes");

    buildStageUi();
    buildHandoutUi();
    buildHelp();
    fitAll();

    let notesFitted = html.classList.contains("pgslides-print-notes");
    // Whoever adds the print-notes class later (a PDF tool, say) gets fitted notes.
    new MutationObserver(() => {
      const on = html.classList.contains("pgslides-print-notes");
      if (on !== notesFitted) {
        notesFitted = on;
        fitAll();
      }
    }).observe(html, { attributes: true, attributeFilter: ["class"] });

    window.addEventListener("keydown", onKey, true);
    window.addEventListener("hashchange", route);
    window.addEventListener("popstate", route);
    window.addEventListener("resize", onResize);
    document.addEventListener("touchstart", onTouchStart, { passive: true });
    document.addEventListener("touchend", onTouchEnd, { passive: true });
    window.addEventListener("beforeprint", fitAll);

    const presenterHash = /^#presenter\/(\d+)$/.exec(location.hash);
    if (presenterHash) startPresenterView(Number(presenterHash[1]) - 1);
    else route();
    connect();
    html.dataset.pgslides = "ready";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
