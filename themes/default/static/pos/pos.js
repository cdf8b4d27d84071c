// feria's till: keyboard- and scanner-first input, and an offline queue.
//
// Nothing here decides money: the engine prices, splits and records. This script reads
// what the cashier types or scans, shows a running total from the catalogue the page was
// given (so a scan answers at once, with or without the server), and posts the sale to
// the caja común's API with an idempotency key made when the sale starts. A sale the
// server does not answer is kept in IndexedDB and sent again until it is recorded; the
// server's answer (the receipt) is what counts.
//
// A payment method may ask who pays (a member account and its PIN, a scanned card or
// voucher: its "ways", declared by the method as data). The page shows the chosen way's
// inputs, sends them as the tender's data, and never keeps a secret one (a PIN) anywhere but
// in this page's memory: see `saleSecrets` below.
//
// The command line (one input; Enter runs it):
//   7800000000016        a barcode (a scanner types the digits and Enter): one item
//   2000001012503        a scale label (EAN-13 starting with 2: item, then grams): weighed
//   MIEL-KG*1,25         a product code (SKU or barcode) times a quantity, in the fair's
//   1,25*MIEL-KG         locale (either order; "3*" then a scan works too)
//   P07 2500 [text]      a free line: producer code and amount (P7 works for P07)
//   miel                 anything else searches by name (arrow down, Enter to add)
//   +  (or Enter on an empty line)   go to the payment; −  removes the last line
//   F6 F7 F8 F9          cash given, one key: exact, or the next round amounts
//   …/verify/123         a receipt's QR code: refund that sale
"use strict";

(() => {
  const root = document.getElementById("pos");
  if (!root) return;
  const config = JSON.parse(document.getElementById("pos-config").textContent);
  const T = JSON.parse(document.getElementById("pos-strings").textContent);
  const $ = (id) => document.getElementById(id);
  const fill = (text, vars) => text.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? vars[k] : m));
  const NUM = config.number;
  const QUICK_KEYS = ["F6", "F7", "F8", "F9"];
  const RESEND_EVERY_MS = 2000;
  const SEND_TIMEOUT_MS = 6000;

  // -- numbers in the fair's locale ---------------------------------------------------------

  const moneyFormat = new Intl.NumberFormat(NUM.locale, {
    style: "currency",
    currency: NUM.currency,
    minimumFractionDigits: NUM.decimals,
    maximumFractionDigits: NUM.decimals,
  });
  const plainFormat = new Intl.NumberFormat(NUM.locale, { maximumFractionDigits: 3 });
  const money = (minor) => moneyFormat.format(Number(minor) / 10 ** NUM.decimals);
  const amountExample = new Intl.NumberFormat(NUM.locale, {
    minimumFractionDigits: NUM.decimals,
  }).format(2500);
  const quantityExample = plainFormat.format(1.25);
  const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const decimalRe = new RegExp(`^(\\d*)(?:${escapeRe(NUM.decimal)}(\\d*))?$`);

  // A decimal as typed in the fair's locale → {coef: BigInt, exp} (exact, never a float).
  function readDecimal(text, allowGroups) {
    let t = text.trim().replace(/[\s\u00a0\u202f]/g, "");
    if (allowGroups && NUM.group !== NUM.decimal) t = t.split(NUM.group).join("");
    const m = decimalRe.exec(t);
    if (!m || (m[1] === "" && !m[2])) return null;
    const frac = m[2] || "";
    return { coef: BigInt((m[1] || "0") + frac), exp: frac.length };
  }

  // An amount typed in major units ("2.500" in es-CL, "25,00" in pt-BR) → minor units, of
  // the fair's currency or of one with `decimals` (a social currency's tender).
  function readAmount(text, decimals = NUM.decimals) {
    const d = readDecimal(text, true);
    if (!d || d.exp > decimals) return null;
    return Number(d.coef * 10n ** BigInt(decimals - d.exp));
  }

  // A quantity ("1,25" in es) → the canonical text the API takes ("1.25"), or null.
  function readQuantity(text) {
    const d = readDecimal(text, false);
    if (!d || d.coef <= 0n || d.exp > 3) return null;
    const digits = d.coef.toString().padStart(d.exp + 1, "0");
    return d.exp ? `${digits.slice(0, -d.exp)}.${digits.slice(-d.exp)}` : digits;
  }

  // n / 10^places (n a BigInt) rounded to an integer once, half away from zero: the
  // engine's rounding (feria.money), exactly.
  function halfUp(n, places) {
    if (places <= 0) return Number(n * 10n ** BigInt(-places));
    const d = 10n ** BigInt(places);
    const m = n < 0n ? -n : n;
    const q = m / d + (2n * (m % d) >= d ? 1n : 0n);
    return Number(n < 0n ? -q : q);
  }

  // quantity × price rounded once, half away from zero: the engine's rule, for the running
  // total on screen (the recorded sale carries the engine's own figure).
  function lineTotal(quantity, price) {
    const [whole, frac = ""] = quantity.split(".");
    return halfUp(BigInt(whole + frac) * BigInt(price), frac.length);
  }

  // A rate as the fair's rules state it ("1000", "0.7", "1E+3") → {coef: BigInt, exp} with
  // rate = coef / 10^exp, exactly (never a float), or null.
  function readRate(text) {
    const m = /^(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(String(text ?? "").trim());
    if (!m || (!m[1] && !m[2])) return null;
    const frac = m[2] || "";
    return { coef: BigInt((m[1] || "0") + frac), exp: frac.length - Number(m[3] || 0) };
  }

  const showQuantity = (q) => plainFormat.format(Number(q));

  // -- the catalogue the page was given ----------------------------------------------------

  const byBarcode = new Map();
  const bySku = new Map();
  const byId = new Map();
  for (const p of config.products) {
    byId.set(p.id, p);
    if (p.barcode) byBarcode.set(p.barcode, p);
    if (!bySku.has(p.sku.toUpperCase())) bySku.set(p.sku.toUpperCase(), p);
  }
  const producers = new Map(config.producers.map((p) => [p.code.toUpperCase(), p]));
  const WEIGHED = new Set(["kg", "g", "l"]);
  const isWeighed = (p) => WEIGHED.has(p.unit);

  function findProducer(code) {
    const c = code.toUpperCase();
    if (producers.has(c)) return producers.get(c);
    const m = /^([A-Z]+)0*(\d+)$/.exec(c);
    if (!m) return null;
    for (const p of config.producers) {
      const pm = /^([A-Z]+)0*(\d+)$/.exec(p.code.toUpperCase());
      if (pm && pm[1] === m[1] && pm[2] === m[2]) return p;
    }
    return null;
  }

  function eanCheck(digits12) {
    let sum = 0;
    for (let i = 0; i < 12; i++) sum += Number(digits12[i]) * (i % 2 ? 3 : 1);
    return String((10 - (sum % 10)) % 10);
  }

  // A scale label (GS1 variable measure, EAN-13 starting with 2): the first 7 digits name
  // the item, the next 5 the weight in grams (millilitres for litres). The catalogue holds
  // the label's base code, its measure zeroed: 2000001 00000 C.
  function scaleLabel(code) {
    if (code.length !== 13 || code[0] !== "2" || eanCheck(code.slice(0, 12)) !== code[12]) {
      return null;
    }
    const base = `${code.slice(0, 7)}00000`;
    const product = byBarcode.get(base + eanCheck(base));
    if (!product || !isWeighed(product)) return null;
    const measure = Number(code.slice(7, 12));
    if (!measure) return null;
    const thousandths = `${Math.floor(measure / 1000)}.${String(measure % 1000).padStart(3, "0")}`;
    const quantity = product.unit === "g" ? String(measure) : thousandths.replace(/\.?0+$/, "");
    return { product, quantity };
  }

  function findProduct(code) {
    const c = code.trim();
    if (!c) return null;
    if (/^\d{8,14}$/.test(c)) {
      if (byBarcode.has(c)) return { product: byBarcode.get(c) };
      const label = scaleLabel(c);
      if (label) return label;
    }
    const sku = bySku.get(c.toUpperCase());
    if (sku) return { product: sku };
    const id = /^#(\d+)$/.exec(c);
    if (id && byId.has(Number(id[1]))) return { product: byId.get(Number(id[1])) };
    return null;
  }

  // -- IndexedDB: the outbox of sales to send, and the sale being rung up -----------------

  const store = (() => {
    let opening = null;
    const open = () =>
      (opening ||= new Promise((resolve, reject) => {
        const req = indexedDB.open("feria-pos", 1);
        req.onupgradeneeded = () => {
          req.result.createObjectStore("outbox", { keyPath: "key" });
          req.result.createObjectStore("drafts", { keyPath: "till" });
        };
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      }));
    const run = async (name, mode, action) => {
      const db = await open();
      return new Promise((resolve, reject) => {
        const tx = db.transaction(name, mode);
        const req = action(tx.objectStore(name));
        tx.oncomplete = () => resolve(req.result);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
    };
    // Change a kept record only if it is still there: another tab may have sent it already.
    const update = async (name, key, change) => {
      const db = await open();
      return new Promise((resolve, reject) => {
        const tx = db.transaction(name, "readwrite");
        const objects = tx.objectStore(name);
        const req = objects.get(key);
        req.onsuccess = () => {
          if (req.result) objects.put(change(req.result));
        };
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
    };
    return {
      update,
      put: (name, value) => run(name, "readwrite", (s) => s.put(value)),
      get: (name, key) => run(name, "readonly", (s) => s.get(key)),
      remove: (name, key) => run(name, "readwrite", (s) => s.delete(key)),
      all: (name) => run(name, "readonly", (s) => s.getAll()),
    };
  })();

  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16)); // a plain-http till on a LAN
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // -- the sale being rung up --------------------------------------------------------------

  const tillId = config.till ? config.till.id : null;
  let cart = emptyCart();

  function emptyCart() {
    return { till: tillId, key: null, lines: [], tenders: [] };
  }

  const total = () => cart.lines.reduce((s, l) => s + l.total, 0);

  const decimalsOf = (code) => (config.currencies || {})[code] ?? NUM.decimals;

  // What a tender is worth in the fair's currency: converted at the fair's rate and rounded
  // once, half away from zero, as the engine converts it (feria.money.convert), so the due
  // on screen is the engine's to the unit. A float product would be a unit off now and then
  // (0.7 × 45 is 31.499… as a float): a sale the page thinks paid would be refused.
  function tenderValue(t) {
    if (t.currency === NUM.currency) return t.amount;
    const rate = readRate(config.fair.rates[t.currency]);
    if (!rate || rate.coef <= 0n) return 0;
    const places = rate.exp - (NUM.decimals - decimalsOf(t.currency));
    return halfUp(BigInt(t.amount) * rate.coef, places);
  }

  // An amount in its own currency: "$12.990", or "20,99 LUCA" for a currency Intl does not
  // know (a social currency's code is not an ISO one).
  function showIn(amount, code) {
    if (code === NUM.currency) return money(amount);
    const decimals = decimalsOf(code);
    const format = new Intl.NumberFormat(NUM.locale, {
      minimumFractionDigits: decimals,
      maximumFractionDigits: decimals,
    });
    return `${format.format(amount / 10 ** decimals)} ${code}`;
  }

  // What a tender in `code` pays of what is due, typed nothing: the due itself when it
  // converts exactly (1.990 CLP is 1.990,00 of a currency at par with it; a shopper is not
  // charged the 0,49 more that would round away), else the most the engine takes, which
  // refuses a non-cash tender worth more than the due once converted (at the fair's rate,
  // rounded half up). Worked out from the rate, not from what one unit is worth: a unit of a
  // currency with cents at par with one without is worth nothing once rounded.
  function dueIn(code) {
    const d = Math.max(due(), 0);
    if (code === NUM.currency) return d;
    const rate = readRate(config.fair.rates[code]);
    if (!rate || rate.coef <= 0n) return 0;
    // amount × coef / 10^places, in the fair's minor units
    const places = rate.exp - (NUM.decimals - decimalsOf(code));
    const up = 10n ** BigInt(Math.max(places, 0));
    const coef = rate.coef * 10n ** BigInt(Math.max(-places, 0));
    const exact = BigInt(d) * up;
    if (exact % coef === 0n) return Number(exact / coef);
    // Rounded half up, it is at most d while amount × coef < (d + ½) × 10^places.
    let amount = Number(((2n * BigInt(d) + 1n) * up - 1n) / (2n * coef));
    while (tenderValue({ amount: amount + 1, currency: code }) <= d) amount++;
    while (amount > 0 && tenderValue({ amount, currency: code }) > d) amount--;
    return amount;
  }

  const paid = () => cart.tenders.reduce((s, t) => s + tenderValue(t), 0);
  const due = () => total() - paid();

  function saveDraft() {
    if (tillId === null) return;
    const keep = cart.lines.length || cart.tenders.length;
    (keep ? store.put("drafts", cart) : store.remove("drafts", tillId)).catch(() => {});
  }

  function startSaleIfNeeded() {
    if (!cart.key) cart.key = newKey(); // the idempotency key is the sale's from its start
  }

  function addLine(line) {
    startSaleIfNeeded();
    cart.lines.push(line);
    saveDraft();
    hideReceiptIfSelling();
    render();
    say(fill(T.line_added, { name: line.label, total: money(line.total), grand: money(total()) }));
  }

  function addProduct(product, quantity) {
    if (!isWeighed(product) && !/^\d+$/.test(quantity)) {
      say(fill(T.whole_quantity, { name: product.name }), true);
      return false;
    }
    addLine({
      product_id: product.id,
      quantity,
      label: product.name,
      producer: product.producer,
      unit: product.unit,
      total: lineTotal(quantity, product.price),
    });
    return true;
  }

  function removeLine(index) {
    const [line] = cart.lines.splice(index, 1);
    if (!cart.lines.length) cart.tenders = [];
    saveDraft();
    render();
    if (line) say(fill(T.line_removed, { name: line.label }));
  }

  function clearSale() {
    cart = emptyCart();
    saveDraft();
    render();
    say(T.sale_cleared);
    command.focus();
  }

  // -- the command line --------------------------------------------------------------------

  const command = $("command");
  const results = $("search-results");
  const message = $("message");
  let found = [];
  let active = -1;
  let searchTimer = null;
  let searchSeq = 0;

  function say(text, isError = false) {
    message.textContent = text;
    message.classList.toggle("error", isError);
  }

  function askWeight(code, product) {
    command.value = `${code}*`;
    say(fill(T.weigh, { name: product.name, unit: T[product.unit] || product.unit }));
  }

  function runCommand(raw) {
    const text = raw.trim();
    hideResults();
    if (!config.session) {
      say(T.session_needed, true);
      return;
    }
    if (!text) {
      if (cart.lines.length) goToPayment();
      return;
    }
    command.value = "";
    const verify = /\/verify\/(\d+)/.exec(text);
    if (verify) {
      openRefund(verify[1]);
      return;
    }
    const free = /^([A-Za-z]{1,4}\d{1,4})\s+(\S+)(?:\s+(.+))?$/.exec(text);
    if (free && !findProduct(text)) {
      const producer = findProducer(free[1]);
      if (!producer) return refuse(raw, fill(T.unknown_producer, { code: free[1].toUpperCase() }));
      const amount = readAmount(free[2]);
      if (!amount || amount <= 0) {
        return refuse(raw, fill(T.bad_amount, { text: free[2], example: amountExample }));
      }
      addLine({
        producer_code: producer.code,
        amount,
        description: free[3] || "",
        quantity: "1",
        // The row adds the producer's code after the label, so the label names the producer.
        label: free[3] || (producer.name ? `${T.free_line} · ${producer.name}` : T.free_line),
        producer: producer.code,
        unit: "piece",
        total: amount,
      });
      return;
    }
    const star = text.indexOf("*");
    if (star >= 0) {
      const left = text.slice(0, star).trim();
      const right = text.slice(star + 1).trim();
      let hit = findProduct(left);
      let qtyText = right;
      let code = left;
      if (!hit) {
        hit = findProduct(right);
        qtyText = left;
        code = right;
      }
      if (!hit) return refuse(raw, fill(T.unknown_code, { code: left || right }));
      if (!qtyText) return askWeight(code, hit.product);
      const quantity = readQuantity(qtyText);
      if (!quantity) {
        return refuse(raw, fill(T.bad_quantity, { text: qtyText, example: quantityExample }));
      }
      if (!addProduct(hit.product, quantity)) command.value = raw;
      return;
    }
    const hit = findProduct(text);
    if (hit) {
      if (hit.quantity) addProduct(hit.product, hit.quantity);
      else if (isWeighed(hit.product)) askWeight(text, hit.product);
      else addProduct(hit.product, "1");
      return;
    }
    command.value = raw;
    search(text, true);
  }

  function refuse(raw, text) {
    command.value = raw;
    command.select();
    say(text, true);
  }

  // -- search by name or code (the server's, or the page's own list when offline) ---------

  function looksLikeSearch(text) {
    return /[^\d\s.,*+-]/.test(text) && !/^[A-Za-z]{1,4}\d{1,4}\s+\S/.test(text) && !text.includes("*");
  }

  function localSearch(q) {
    const needle = q.toLowerCase();
    return config.products
      .filter(
        (p) =>
          p.name.toLowerCase().includes(needle) ||
          p.sku.toLowerCase().includes(needle) ||
          p.producer.toLowerCase() === needle,
      )
      .slice(0, 20);
  }

  async function search(q, announce) {
    const seq = ++searchSeq;
    let list;
    try {
      const r = await fetch(`/pos/products?q=${encodeURIComponent(q)}`, { credentials: "same-origin" });
      if (!r.ok) throw new Error(String(r.status));
      list = await r.json();
    } catch {
      list = localSearch(q);
    }
    if (seq !== searchSeq) return; // a newer search answered first
    showResults(list);
    if (announce || !list.length) say(list.length ? fill(T.results, { n: list.length }) : T.no_results, !list.length);
  }

  // A label the product carries today (only the server's answers have them): its short
  // name on screen, and for a screen reader what it is and until when.
  const labelDate = new Intl.DateTimeFormat(config.number.locale, { dateStyle: "medium", timeZone: "UTC" });

  function labelMark(label) {
    const span = document.createElement("span");
    span.className = "pos-label";
    span.dataset.scheme = label.scheme;
    const until = label.valid_until ? labelDate.format(new Date(`${label.valid_until}T00:00:00Z`)) : "";
    const text = until ? fill(T.label_until, { name: label.name, date: until }) : fill(T.label, { name: label.name });
    const shown = document.createElement("span");
    shown.setAttribute("aria-hidden", "true");
    shown.textContent = `✓ ${label.name}`;
    const said = document.createElement("span");
    said.className = "visually-hidden";
    said.textContent = `, ${text}`;
    span.title = text;
    span.append(shown, said);
    return span;
  }

  function showResults(list) {
    found = list;
    active = -1;
    results.replaceChildren(
      ...list.map((p, i) => {
        const li = document.createElement("li");
        li.id = `result-${i}`;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.dataset.index = String(i);
        const unit = isWeighed(p) ? ` / ${T[p.unit] || p.unit}` : "";
        li.textContent = `${p.name} · ${p.producer} · ${money(p.price)}${unit}`;
        for (const label of p.labels || []) li.append(labelMark(label));
        li.addEventListener("mousedown", (e) => e.preventDefault());
        li.addEventListener("click", () => choose(i));
        return li;
      }),
    );
    results.hidden = !list.length;
    command.setAttribute("aria-expanded", list.length ? "true" : "false");
    command.removeAttribute("aria-activedescendant");
  }

  function hideResults() {
    clearTimeout(searchTimer);
    searchSeq++;
    if (!results.hidden) showResults([]);
  }

  function highlight(i) {
    active = i;
    for (const li of results.children) {
      li.setAttribute("aria-selected", li.dataset.index === String(i) ? "true" : "false");
    }
    if (i >= 0) {
      command.setAttribute("aria-activedescendant", `result-${i}`);
      results.children[i].scrollIntoView({ block: "nearest" });
    } else command.removeAttribute("aria-activedescendant");
  }

  function choose(i) {
    const p = found[i];
    hideResults();
    command.value = "";
    if (!p) return;
    const product = byId.get(p.id) || p;
    if (isWeighed(product)) askWeight(product.sku, product);
    else addProduct(product, "1");
    command.focus();
  }

  // -- payment -----------------------------------------------------------------------------

  const tenderForm = $("tender-form");
  const tenderAmount = $("tender-amount");
  const tenderRef = $("tender-reference");
  const tenderRate = $("tender-rate");

  // A tender's secret data (a PIN) is never written to IndexedDB, nor shown: IndexedDB
  // outlives the page on a till anyone may sit at, and a PIN is a key to a member's money.
  // A scanned token (a member card, a voucher) is one too, and a stronger one: a card pays
  // without a PIN, so whoever reads it off the device may spend from the account. Both
  // kinds of field (`secret` and `scan`, see `isSecret`) are kept alike, in memory only.
  // While the cart is rung up they sit beside their tender in `tenderSecrets`; once the
  // sale is submitted, in `saleSecrets` (sale key → one object per tender) until the server
  // answers. So a sale queued while the server is away is resent with its PIN or card for
  // as long as this page stays open; after a reload they are gone, the queued sale is not
  // sent without them (the server would refuse it) and the pending list asks for them
  // again. A sale the server refused keeps no tender data at all: it is never resent.
  const isSecret = (input) => input.dataset.kind === "secret" || input.dataset.kind === "scan";
  const tenderSecrets = new WeakMap();
  const saleSecrets = new Map();

  function methodNamed(code) {
    return config.methods.find((m) => m.code === code);
  }

  function chosenMethod() {
    const checked = tenderForm.querySelector("input[name=method]:checked");
    return methodNamed(checked ? checked.value : "cash") || config.methods[0];
  }

  const tenderCurrency = (method) =>
    method.currencies.includes(NUM.currency) ? NUM.currency : method.currencies[0];

  const waysBox = (method) =>
    [...tenderForm.querySelectorAll(".tender-ways")].find((b) => b.dataset.method === method.code) || null;

  const wayInputs = (fields) => [...fields.querySelectorAll("input[data-key]")];

  // The inputs of the way chosen for `method` (null: the method asks nothing).
  function chosenWay(method) {
    const box = waysBox(method);
    if (!box) return null;
    return [...box.querySelectorAll(".way-fields")].find((f) => !f.hidden) || null;
  }

  function showChosenMethod() {
    const method = chosenMethod();
    if (!method) return;
    for (const box of tenderForm.querySelectorAll(".tender-ways")) {
      box.hidden = box.dataset.method !== method.code;
    }
    $("tender-reference-row").hidden = Boolean(waysBox(method));
    showTenderRate(method);
  }

  function showChosenWay(box) {
    const checked = box.querySelector("input[type=radio]:checked");
    for (const fields of box.querySelectorAll(".way-fields")) {
      fields.hidden = Boolean(checked) && fields.dataset.way !== checked.value;
    }
  }

  // A tender in another currency (a social currency) is typed in that currency: say which,
  // at what rate, and what Enter alone pays.
  function showTenderRate(method) {
    const code = method ? tenderCurrency(method) : NUM.currency;
    tenderRate.hidden = !code || code === NUM.currency;
    if (tenderRate.hidden) return;
    const one = tenderValue({ amount: 10 ** decimalsOf(code), currency: code });
    tenderRate.textContent = fill(T.tender_in, { currency: code, rate: money(one), due: showIn(dueIn(code), code) });
  }

  // What the chosen way's inputs hold, split into what may be kept and shown and the
  // secrets that may not; `missing` is the first empty input.
  function readWay(method) {
    const fields = chosenWay(method);
    if (!fields) return null;
    const way = { label: fields.dataset.label, data: {}, secrets: {}, secretLabels: {}, shown: [], missing: null };
    for (const input of wayInputs(fields)) {
      const value = input.dataset.kind === "secret" ? input.value : input.value.trim();
      if (!value) {
        way.missing ||= input;
        continue;
      }
      const label = tenderForm.querySelector(`label[for="${input.id}"]`);
      if (isSecret(input)) {
        way.secrets[input.dataset.key] = value;
        way.secretLabels[input.dataset.key] = label ? label.textContent.trim() : input.dataset.key;
      } else {
        way.data[input.dataset.key] = value;
        way.shown.push(value); // typed and shown (an account); a scanned code never is
      }
    }
    return way;
  }

  function clearWays() {
    for (const input of tenderForm.querySelectorAll(".tender-ways input[data-key]")) input.value = "";
  }

  function goToPayment() {
    if (!cart.lines.length) {
      say(T.nothing_to_pay, true);
      return;
    }
    tenderAmount.focus();
    tenderAmount.select();
  }

  function quickAmounts() {
    const d = due();
    if (d <= 0) return [];
    const out = [d];
    for (const step of NUM.cash_steps) {
      const next = Math.ceil(d / step) * step;
      if (!out.includes(next)) out.push(next);
    }
    return out.slice(0, QUICK_KEYS.length);
  }

  function cashMethod() {
    return config.methods.find((m) => m.gives_change) || null;
  }

  function tender(method, amount, reference = "", way = null) {
    if (!cart.lines.length) {
      say(T.nothing_to_pay, true);
      return;
    }
    const currency = tenderCurrency(method);
    startSaleIfNeeded();
    const t = { method: method.code, amount, currency, reference, name: method.name };
    if (way) {
      t.data = way.data;
      t.way = way.label;
      t.shown = way.shown;
      t.secret_labels = way.secretLabels; // which secrets it had, never their values
      if (Object.keys(way.secrets).length) tenderSecrets.set(t, way.secrets);
      clearWays();
    }
    cart.tenders.push(t);
    saveDraft();
    // Taken: what was typed must not linger into the next tender or the next sale, where
    // Enter alone would tender it again instead of what is due.
    tenderAmount.value = "";
    tenderRef.value = "";
    if (due() <= 0) submitSale();
    else {
      render();
      tenderAmount.focus();
    }
  }

  function quickCash(i) {
    const cash = cashMethod();
    const amount = quickAmounts()[i];
    if (cash && amount) {
      performance.mark("pos:enter");
      tender(cash, amount);
    }
  }

  tenderForm.addEventListener("submit", (e) => {
    e.preventDefault();
    performance.mark("pos:enter");
    const method = chosenMethod();
    const code = tenderCurrency(method);
    const text = tenderAmount.value.trim();
    let amount = text ? readAmount(text, decimalsOf(code)) : dueIn(code);
    if (!amount || amount <= 0) {
      say(fill(T.bad_amount, { text: text || "0", example: amountExample }), true);
      tenderAmount.select();
      return;
    }
    const way = readWay(method);
    if (way && way.missing) {
      // Enter in the amount, or in a filled input, goes on to what is still to type or scan.
      const label = tenderForm.querySelector(`label[for="${way.missing.id}"]`);
      say(fill(T.way_missing, { label: label ? label.textContent.trim() : "" }));
      way.missing.focus();
      return;
    }
    tender(method, amount, way ? "" : tenderRef.value.trim(), way);
  });

  tenderForm.addEventListener("change", (e) => {
    if (e.target.name === "method") showChosenMethod();
    else if (e.target.name && e.target.name.startsWith("way-")) showChosenWay(e.target.closest(".tender-ways"));
  });

  tenderForm.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && (e.target === tenderAmount || e.target.dataset.key)) {
      e.preventDefault();
      command.focus();
    }
  });

  // -- sending a sale, now or later --------------------------------------------------------

  // The engine's refusals come back in the page's language (the browser's own
  // Accept-Language may ask for another one than the page was chosen in).
  const csrfHeaders = (key) => {
    const h = { "Content-Type": "application/json", "X-CSRFToken": config.csrf };
    if (document.documentElement.lang) h["Accept-Language"] = document.documentElement.lang;
    if (key) h["Idempotency-Key"] = key;
    return h;
  };

  // → {ok, data} | {offline} | {refused, reason}
  async function post(url, body, key) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), SEND_TIMEOUT_MS);
    let r;
    try {
      r = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: csrfHeaders(key),
        body: JSON.stringify(body),
        signal: abort.signal,
      });
    } catch {
      return { offline: true };
    } finally {
      clearTimeout(timer);
    }
    let data = null;
    try {
      data = await r.json();
    } catch {
      data = null;
    }
    if (r.ok) return { ok: true, data };
    if (r.status === 401 || r.status === 403 || r.status === 429 || r.status >= 500) {
      // Not a refusal of the sale: a login to renew, a proxy or a server in trouble.
      return { offline: true, status: r.status, reason: data && data.detail };
    }
    return { refused: true, reason: (data && data.detail) || String(r.status), field: (data && data.field) || "" };
  }

  const apiLine = (l) =>
    l.product_id
      ? { product_id: l.product_id, quantity: l.quantity }
      : { producer_code: l.producer_code, amount: l.amount, description: l.description || "" };

  const apiTender = (t) => {
    const out = { method: t.method, amount: t.amount, currency: t.currency };
    if (t.reference) out.reference = t.reference;
    if (t.data) out.data = { ...t.data };
    return out;
  };

  const needsSecrets = (t) => Object.keys(t.secret_labels || {}).length > 0;

  // The sale's body as sent: what IndexedDB keeps, plus the secrets held in memory.
  function bodyToSend(sale) {
    const secrets = saleSecrets.get(sale.key);
    if (!secrets) return sale.body;
    const tenders = sale.body.tenders.map((t, i) => (secrets[i] ? { ...t, data: { ...t.data, ...secrets[i] } } : t));
    return { ...sale.body, tenders };
  }

  // A refused sale as kept to be shown in the pending list: what it was, never what paid it.
  const withoutTenderData = (sale) => ({
    ...sale,
    body: { ...sale.body, tenders: sale.body.tenders.map(({ data, ...t }) => t) },
    tenders: (sale.tenders || []).map(({ data, shown, ...t }) => t),
  });

  const lostSecrets = (sale) => (sale.tenders || []).some((t, i) => needsSecrets(t) && !(saleSecrets.get(sale.key) || [])[i]);

  async function submitSale() {
    const sale = {
      key: cart.key,
      till: tillId,
      created: Date.now(),
      status: "sending",
      body: {
        session: config.session.id,
        lines: cart.lines.map(apiLine),
        tenders: cart.tenders.map(apiTender),
      },
      lines: cart.lines,
      tenders: cart.tenders,
      total: total(),
      change: Math.max(-due(), 0),
    };
    if (cart.tenders.some((t) => tenderSecrets.has(t))) {
      saleSecrets.set(sale.key, cart.tenders.map((t) => tenderSecrets.get(t) || null));
    }
    // Kept before it is sent: a crash or a closed tab from here on loses nothing (but a PIN:
    // see `saleSecrets`).
    await store.put("outbox", sale).catch(() => {});
    cart = emptyCart();
    saveDraft();
    render();
    showLocalReceipt(sale);
    const answer = await post("/pos/api/v1/sales", bodyToSend(sale), sale.key);
    if (!answer.offline) saleSecrets.delete(sale.key);
    if (answer.ok) {
      await store.remove("outbox", sale.key).catch(() => {});
      await showReceipt(answer.data.id, sale.key);
      say(fill(T.recorded, { n: answer.data.id }));
    } else if (answer.offline) {
      sale.status = "pending";
      await store.update("outbox", sale.key, (kept) => ({ ...kept, status: "pending" })).catch(() => {});
      markReceiptPending(sale);
      say(answer.status === 401 ? T.login_again : T.offline, true);
      scheduleResend();
    } else {
      // Refused (nothing was written): give the sale back to fix, with the same key. When
      // the server names the tender it refused (a wrong PIN, a spent voucher), only that one
      // is taken off: the others were handed over and stand, and another tender pays the rest.
      await store.remove("outbox", sale.key).catch(() => {});
      const named = /^tenders\[(\d+)\]/.exec(answer.field || "");
      cart = { till: tillId, key: sale.key, lines: sale.lines, tenders: [] };
      if (named) {
        cart.tenders = sale.tenders.filter((_, i) => i !== Number(named[1]));
        if (due() <= 0) cart.tenders = [];
      }
      saveDraft();
      hideReceipt();
      render();
      say(fill(T.refused, { reason: answer.reason }), true);
      (named ? tenderAmount : command).focus();
    }
    refreshPending();
  }

  let resendTimer = null;
  let resending = false;

  function scheduleResend() {
    if (!resendTimer) resendTimer = setInterval(resendPending, RESEND_EVERY_MS);
  }

  async function resendPending() {
    if (resending) return;
    resending = true;
    try {
      const waiting = (await store.all("outbox"))
        .filter((s) => s.status !== "refused")
        .sort((a, b) => a.created - b.created);
      if (!waiting.length) {
        clearInterval(resendTimer);
        resendTimer = null;
        return;
      }
      for (const sale of waiting) {
        if (lostSecrets(sale)) {
          // Queued before a reload: its PIN was never written down. Sent without it, the
          // server would refuse it; the pending list asks for it instead.
          const what = secretNames(sale);
          await store.update("outbox", sale.key, (kept) => ({ ...kept, status: "refused", reason: fill(T.secret_lost, { what }), asks_secrets: true }));
          continue;
        }
        const answer = await post("/pos/api/v1/sales", bodyToSend(sale), sale.key);
        if (answer.offline) break; // still down: try again later, in the same order
        saleSecrets.delete(sale.key);
        if (answer.ok) {
          await store.remove("outbox", sale.key);
          if (receiptPanel.dataset.key === sale.key) await showReceipt(answer.data.id, sale.key);
          say(fill(T.recorded, { n: answer.data.id }));
        } else {
          await store.update("outbox", sale.key, (kept) => ({ ...withoutTenderData(kept), status: "refused", reason: answer.reason }));
          say(fill(T.refused, { reason: answer.reason }), true);
        }
      }
    } catch {
      // IndexedDB unavailable (a private window): nothing was queued to resend.
    } finally {
      resending = false;
      refreshPending();
    }
  }

  async function refreshPending() {
    let all = [];
    try {
      all = await store.all("outbox");
    } catch {
      all = [];
    }
    const status = $("pending-status");
    const panel = $("pending");
    const waiting = all.filter((s) => s.status !== "sending" || Date.now() - s.created > SEND_TIMEOUT_MS);
    root.dataset.pending = String(waiting.length);
    status.hidden = false;
    status.textContent = waiting.length ? fill(T.pending_count, { n: waiting.length }) : T.pending_none;
    status.classList.toggle("warning", waiting.length > 0);
    if (!panel) return;
    panel.hidden = !waiting.length;
    $("pending-list").replaceChildren(
      ...waiting
        .sort((a, b) => a.created - b.created)
        .map((s) => {
          const li = document.createElement("li");
          li.className = `pending-sale ${s.status}`;
          li.dataset.key = s.key;
          const when = new Date(s.created).toLocaleTimeString(NUM.locale);
          li.textContent = `${when} · ${money(s.total)} · ${s.status === "refused" ? fill(T.refused, { reason: s.reason }) : T.pending_short}`;
          if (s.status === "refused" && s.asks_secrets) {
            const again = document.createElement("button");
            again.type = "button";
            again.className = "secondary";
            again.textContent = T.secret_again;
            again.addEventListener("click", () => askSecretsAgain(s));
            li.append(again);
          }
          return li;
        }),
    );
    if (waiting.some((s) => s.status !== "refused")) scheduleResend();
  }

  const secretNames = (sale) => [...new Set((sale.tenders || []).flatMap((t) => Object.values(t.secret_labels || {})))].join(", ");

  // The secrets of a queued sale, typed again after a reload (the shopper's PIN), then sent.
  function askSecretsAgain(sale) {
    const title = textNode("h2", T.secret_again);
    title.id = "dialog-title";
    const form = document.createElement("form");
    form.className = "stack";
    const asked = [];
    sale.tenders.forEach((t, i) => {
      for (const [key, name] of Object.entries(t.secret_labels || {})) {
        const input = document.createElement("input");
        input.type = "password";
        input.id = `again-${i}-${key}`;
        input.autocomplete = "off";
        input.required = true;
        const label = document.createElement("label");
        label.htmlFor = input.id;
        label.textContent = `${t.name}${t.way ? ` · ${t.way}` : ""} ${(t.shown || []).join(" ")} · ${name}`;
        form.append(label, input);
        asked.push({ i, key, input });
      }
    });
    const send = document.createElement("button");
    send.type = "submit";
    send.textContent = T.send;
    form.append(send);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const secrets = sale.tenders.map(() => null);
      for (const { i, key, input } of asked) (secrets[i] ||= {})[key] = input.value;
      saleSecrets.set(sale.key, secrets);
      await store.update("outbox", sale.key, (kept) => ({ ...kept, status: "pending", reason: "", asks_secrets: false }));
      dialog.close();
      resendPending();
    });
    showDialog([title, form]);
  }

  // -- receipts ----------------------------------------------------------------------------

  const receiptPanel = $("receipt");

  function hideReceipt() {
    receiptPanel.hidden = true;
    receiptPanel.dataset.key = "";
    root.dataset.phase = "selling";
  }

  function hideReceiptIfSelling() {
    if (!receiptPanel.hidden) hideReceipt();
  }

  // At once, from what the page knows: the change to hand over. The server's receipt
  // replaces it as soon as the sale is recorded.
  function showLocalReceipt(sale) {
    const article = document.createElement("article");
    article.className = "receipt receipt-local";
    const state = document.createElement("p");
    state.className = "receipt-state sending";
    state.textContent = "…";
    const figures = document.createElement("div");
    figures.className = "receipt-figures";
    figures.append(bigFigure(T.total, money(sale.total), "total-figure"));
    figures.append(bigFigure(T.change, money(sale.change), "change-figure"));
    article.append(state, figures);
    receiptPanel.replaceChildren(article);
    receiptPanel.dataset.key = sale.key;
    receiptPanel.hidden = false;
    root.dataset.phase = "receipt";
    command.focus();
  }

  function bigFigure(label, value, cls) {
    const p = document.createElement("p");
    p.className = `big-figure ${cls}`;
    const span = document.createElement("span");
    span.textContent = label;
    const strong = document.createElement("strong");
    strong.textContent = value;
    p.append(span, " ", strong);
    return p;
  }

  function markReceiptPending(sale) {
    if (receiptPanel.dataset.key !== sale.key) return;
    const state = receiptPanel.querySelector(".receipt-state");
    if (state) {
      state.className = "receipt-state pending";
      state.textContent = T.pending;
    }
  }

  async function showReceipt(saleId, key) {
    try {
      const r = await fetch(`/pos/receipts/${saleId}`, { credentials: "same-origin" });
      if (!r.ok) throw new Error(String(r.status));
      const html = await r.text();
      if (key && receiptPanel.dataset.key && receiptPanel.dataset.key !== key) return;
      receiptPanel.innerHTML = html;
      receiptPanel.dataset.key = key || "";
      receiptPanel.dataset.sale = String(saleId);
      receiptPanel.hidden = false;
      root.dataset.phase = "receipt";
      performance.mark("pos:receipt");
      const m = performance.measure("pos:enter-to-receipt", "pos:enter", "pos:receipt");
      timings.push(m.duration);
    } catch {
      // The sale is recorded; only its receipt could not be fetched. The number says it.
    }
  }

  // -- rendering the sale ------------------------------------------------------------------

  function render() {
    const body = $("lines-body");
    body.replaceChildren(
      ...cart.lines.map((l, i) => {
        const tr = document.createElement("tr");
        const name = document.createElement("td");
        name.textContent = l.label;
        const small = document.createElement("span");
        small.className = "producer-code";
        small.textContent = ` ${l.producer}`;
        name.append(small);
        const qty = document.createElement("td");
        qty.className = "num";
        qty.textContent = l.unit === "piece" ? showQuantity(l.quantity) : `${showQuantity(l.quantity)} ${T[l.unit] || l.unit}`;
        const amount = document.createElement("td");
        amount.className = "num";
        amount.textContent = money(l.total);
        const cell = document.createElement("td");
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "remove secondary";
        remove.textContent = "×";
        remove.setAttribute("aria-label", `${T.remove}: ${l.label}`);
        remove.addEventListener("click", () => removeLine(i));
        cell.append(remove);
        tr.append(name, qty, amount, cell);
        return tr;
      }),
    );
    $("total").textContent = money(total());
    const d = due();
    $("due-label").textContent = d < 0 ? T.change : T.due;
    $("due").textContent = money(Math.abs(d));
    $("tenders").replaceChildren(
      ...cart.tenders.map((t) => {
        const li = document.createElement("li");
        const who = `${t.way ? ` · ${t.way}` : ""}${t.shown && t.shown.length ? ` ${t.shown.join(" ")}` : ""}`;
        const worth = t.currency === NUM.currency ? "" : ` (${money(tenderValue(t))})`;
        li.textContent = `${t.name}${who}: ${showIn(t.amount, t.currency)}${worth}`;
        return li;
      }),
    );
    const quick = $("quick-cash");
    const cash = cashMethod();
    quick.replaceChildren(
      ...(cash && cart.lines.length ? quickAmounts() : []).map((amount, i) => {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "quick";
        b.dataset.amount = String(amount);
        const kbd = document.createElement("kbd");
        kbd.textContent = QUICK_KEYS[i];
        b.append(kbd, ` ${money(amount)}`);
        b.setAttribute("aria-label", `${cash.name} ${money(amount)} (${QUICK_KEYS[i]})`);
        b.addEventListener("click", () => quickCash(i));
        return b;
      }),
    );
    showTenderRate(chosenMethod());
  }

  // -- keys --------------------------------------------------------------------------------

  command.addEventListener("input", () => {
    clearTimeout(searchTimer);
    const text = command.value.trim();
    if (text.length >= 2 && looksLikeSearch(text)) {
      searchTimer = setTimeout(() => search(text, false), 120);
    } else hideResults();
  });

  command.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown" && found.length) {
      e.preventDefault();
      highlight(Math.min(active + 1, found.length - 1));
    } else if (e.key === "ArrowUp" && found.length) {
      e.preventDefault();
      highlight(Math.max(active - 1, -1));
    } else if (e.key === "Enter" && active >= 0) {
      e.preventDefault();
      choose(active);
    } else if (e.key === "Escape") {
      e.preventDefault();
      if (!results.hidden) hideResults();
      else command.value = "";
    } else if ((e.key === "+" || e.key === "Add") && command.value.trim() === "") {
      e.preventDefault();
      goToPayment();
    } else if ((e.key === "-" || e.key === "Subtract") && command.value.trim() === "") {
      e.preventDefault();
      if (cart.lines.length) removeLine(cart.lines.length - 1);
    }
  });

  $("command-form").addEventListener("submit", (e) => {
    e.preventDefault();
    performance.mark("pos:enter");
    runCommand(command.value);
  });

  document.addEventListener("keydown", (e) => {
    const i = QUICK_KEYS.indexOf(e.key);
    if (i < 0 || $("dialog").open || !config.session) return;
    e.preventDefault();
    quickCash(i);
  });

  $("clear-sale").addEventListener("click", clearSale);

  // -- session: open, close, X-report; refunds ----------------------------------------------

  const dialog = $("dialog");
  const dialogBody = $("dialog-body");

  function showDialog(nodes) {
    dialogBody.replaceChildren(...nodes);
    if (!dialog.open) dialog.showModal();
    const first = dialogBody.querySelector("input, button, select");
    if (first) first.focus();
  }

  dialog.addEventListener("close", () => command.focus());

  async function fetchFragment(url) {
    const r = await fetch(url, { credentials: "same-origin" });
    if (!r.ok) throw new Error(r.status === 404 ? "404" : String(r.status));
    const t = document.createElement("template");
    t.innerHTML = await r.text();
    return [...t.content.childNodes];
  }

  function setSession(session) {
    config.session = session;
    root.dataset.state = session ? "selling" : "closed";
    $("open-panel").hidden = Boolean(session);
    $("sale-panel").hidden = !session;
    for (const b of document.querySelectorAll("[data-requires-session]")) b.hidden = !session;
    $("session-status").textContent = session ? `${session.id}` : "";
    if (session) $("session-status").textContent = fill(T.session_open || "{n}", { n: session.id });
  }

  $("open-form")?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const float = readAmount($("open-float").value || "0");
    if (float === null) {
      say(fill(T.bad_amount, { text: $("open-float").value, example: amountExample }), true);
      return;
    }
    const answer = await post("/pos/api/v1/sessions", { till: tillId, float });
    if (answer.ok) {
      setSession(answer.data);
      command.focus();
    } else {
      $("open-help").textContent = fill(T.error, { reason: answer.reason || T.offline });
    }
  });

  $("close-open").addEventListener("click", () => {
    showDialog([...$("close-template").content.cloneNode(true).childNodes]);
    $("close-form").addEventListener("submit", closeSession);
  });

  async function closeSession(e) {
    e.preventDefault();
    const counted = readAmount($("close-counted").value);
    if (counted === null) {
      $("close-counted").setAttribute("aria-invalid", "true");
      return;
    }
    const waiting = (await store.all("outbox").catch(() => [])).filter((s) => s.status !== "refused");
    if (waiting.length) {
      showDialog([textNode("p", fill(T.pending_count, { n: waiting.length }), "alert")]);
      return;
    }
    const id = config.session.id;
    const answer = await post(`/pos/api/v1/sessions/${id}/close`, { counted: { [NUM.currency]: counted } });
    if (!answer.ok) {
      showDialog([textNode("p", fill(T.error, { reason: answer.reason || T.offline }), "alert")]);
      return;
    }
    setSession(null);
    try {
      showDialog(await fetchFragment(`/pos/sessions/${id}/report`));
    } catch {
      showDialog([textNode("p", T.session_closed)]);
    }
  }

  function textNode(tag, text, cls) {
    const el = document.createElement(tag);
    el.textContent = text;
    if (cls) el.className = cls;
    if (cls === "alert") el.setAttribute("role", "alert");
    return el;
  }

  $("x-report").addEventListener("click", async () => {
    try {
      showDialog(await fetchFragment(`/pos/sessions/${config.session.id}/report`));
    } catch (err) {
      showDialog([textNode("p", fill(T.error, { reason: err.message }), "alert")]);
    }
  });

  function openRefund(number) {
    showDialog([...$("refund-template").content.cloneNode(true).childNodes]);
    $("refund-find").addEventListener("submit", (e) => {
      e.preventDefault();
      findRefund($("refund-number").value);
    });
    if (number) {
      $("refund-number").value = number;
      findRefund(number);
    }
  }

  async function findRefund(text) {
    const m = /\/verify\/(\d+)/.exec(text) || /^\s*#?(\d+)\s*$/.exec(text);
    const target = $("refund-sale");
    if (!m) {
      target.replaceChildren(textNode("p", T.refund_number, "alert"));
      return;
    }
    try {
      target.replaceChildren(...(await fetchFragment(`/pos/sales/${m[1]}/refund`)));
    } catch (err) {
      target.replaceChildren(textNode("p", fill(T.error, { reason: err.message === "404" ? T.refund_number : err.message }), "alert"));
      return;
    }
    const form = $("refund-form");
    const key = newKey(); // one refund, however often the button is pressed
    $("refund-reason").focus();
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const boxes = [...form.querySelectorAll("input[name=line]")];
      const chosen = boxes.filter((b) => b.checked).map((b) => Number(b.value));
      if (!chosen.length) return;
      const body = { session: config.session.id, reason: $("refund-reason").value.trim() };
      if (chosen.length !== boxes.length) body.lines = chosen;
      const answer = await post(`/pos/api/v1/sales/${form.dataset.sale}/refund`, body, key);
      if (!answer.ok) {
        const p = textNode("p", fill(T.error, { reason: answer.reason || T.offline }), "alert");
        form.prepend(p);
        return;
      }
      dialog.close();
      await showReceipt(answer.data.id, "");
      say(fill(T.refund_done, { n: answer.data.id }));
    });
  }

  $("refund-open").addEventListener("click", () => openRefund(""));

  // -- the till's status (session opened or closed elsewhere, printer) ------------------------

  function showPrinter(printer) {
    const el = $("printer-status");
    if (!printer) {
      el.hidden = true;
      return;
    }
    el.hidden = false;
    const state = printer.state || "ok";
    el.textContent = `${T.printer}: ${T[`printer_${state}`] || state}`;
    el.classList.toggle("warning", Boolean(printer.warning));
  }

  async function pollStatus() {
    try {
      const r = await fetch(`/pos/status?till=${tillId}`, { credentials: "same-origin" });
      if (!r.ok) return;
      const s = await r.json();
      showPrinter(s.printer);
      const was = config.session ? config.session.id : null;
      const now = s.session ? s.session.id : null;
      if (was !== now && !dialog.open) setSession(s.session);
    } catch {
      // offline: the pending count says so
    }
  }

  // -- start -------------------------------------------------------------------------------

  const timings = [];
  window.feriaPos = {
    timings,
    pending: async () => (await store.all("outbox")).filter((s) => s.status !== "refused").length,
    cart: () => cart,
  };

  showPrinter(config.printer);
  if (tillId !== null) {
    store
      .get("drafts", tillId)
      .then((draft) => {
        if (draft && draft.lines && draft.lines.length && !cart.lines.length) {
          const lost = (draft.tenders || []).filter(needsSecrets);
          cart = { ...draft, tenders: (draft.tenders || []).filter((t) => !needsSecrets(t)) };
          render();
          if (lost.length) say(fill(T.secret_retake, { what: secretNames({ tenders: lost }) }), true);
        }
      })
      .catch(() => {});
    setInterval(pollStatus, 15000);
  }
  for (const box of tenderForm ? tenderForm.querySelectorAll(".tender-ways") : []) showChosenWay(box);
  if (tenderForm) showChosenMethod();
  render();
  refreshPending();
  resendPending();
  window.addEventListener("online", resendPending);
  if (config.session) command.focus();
  else $("open-float")?.focus();
  root.dataset.ready = "true";
})();
