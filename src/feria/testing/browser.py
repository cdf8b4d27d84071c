"""Testing feria's pages in a real browser: the app served by uvicorn on 127.0.0.1, Debian's
Chromium driven by Playwright, phone and laptop viewports, and accessibility checks.

Used by feria's own browser tests (``tests/browser``) and its POS benchmark, and offered to
theme and plugin authors. Playwright is used only as a driver: it never downloads a browser
here; the Chromium is the system's (``FERIA_CHROMIUM``, default ``/usr/bin/chromium``, which
``make test`` installs from Debian's ``chromium`` package).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("FERIA_CHROMIUM", "/usr/bin/chromium")

# Without the background-networking flags Chromium keeps trying to reach Google's services,
# which a closed network (a fair's laptop, CI) refuses, many times a second. Playwright gives
# every launch a fresh, empty profile directory of its own.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}
LAPTOP = {"width": 1366, "height": 768}


class ChromiumMissing(RuntimeError):
    """No Chromium (or no Playwright) to drive: the browser tests cannot run."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LiveServer:
    """``app`` served by uvicorn in a background thread on ``host``:``port``.

    :meth:`stop` and :meth:`start` again serve the same app on the same port: a till sees
    the server go away and come back exactly as after a restart of ``feria serve``.
    """

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.app = app
        self.host = host
        self.port = port or free_port(host)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> LiveServer:
        import uvicorn

        if self.running:
            return self
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="feria-live", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the live server did not start on {self.url}")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop answering: open connections are closed, new ones refused."""
        if self._server is None:
            return
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout)
        self._server = None
        self._thread = None

    def restart(self) -> LiveServer:
        self.stop()
        return self.start()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def launch_chromium(playwright: Any, **options: Any) -> Any:
    """Debian's Chromium, headless, through ``playwright`` (``sync_playwright().start()``)."""
    if not Path(CHROMIUM).exists():
        raise ChromiumMissing(
            f"Chromium is not installed at {CHROMIUM}: `make test` installs it (Debian package "
            "chromium), or set FERIA_CHROMIUM to another Chromium"
        )
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, **options
    )


def start_playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise ChromiumMissing(
            "the playwright package is missing: `make test` installs the test dependencies"
        ) from exc
    return sync_playwright().start()


def log_in(page: Any, base_url: str, username: str, password: str, next_path: str = "/") -> None:
    """Log in through the real form, as a person would, and land on ``next_path``."""
    page.goto(f"{base_url}/login?next={next_path}")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("form[action='/login'] button[type=submit]")


# -- accessibility ----------------------------------------------------------------------------

# axe-core's rules for WCAG 2.0, 2.1 and 2.2 at levels A and AA: among them every form
# control has a label, text contrasts at least 4.5:1 with its background (3:1 when large),
# images and QR codes have a text alternative, the page has a language and a title, ARIA is
# used correctly, and touch targets are at least 24 px.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

_FOCUSABLE_JS = """
() => {
  const selector = 'a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]),' +
    ' select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';
  const visible = (el) => {
    if (!el.getClientRects().length) return false;
    const style = getComputedStyle(el);
    return style.visibility !== 'hidden' && !el.closest('[inert], dialog:not([open])');
  };
  const seenRadio = new Set();
  const out = [];
  let n = 0;
  const positive = [];
  for (const el of document.querySelectorAll(selector)) {
    if (!visible(el) || el.tabIndex < 0) continue;
    if (el.tabIndex > 0) positive.push(el.outerHTML.slice(0, 80));
    if (el.type === 'radio') {
      // Tab enters a radio group once, at its checked radio (or at its first).
      const name = CSS.escape(el.name);
      const checked = document.querySelector(`input[type=radio][name="${name}"]:checked`);
      if (checked ? checked !== el : seenRadio.has(el.name)) continue;
      seenRadio.add(el.name);
    }
    el.dataset.a11yId = String(n);
    out.push({id: String(n++), html: el.outerHTML.slice(0, 80)});
  }
  return {order: out, positive};
}
"""

_ACTIVE_JS = """
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  const ring = style.boxShadow && style.boxShadow !== 'none';
  const html = el.outerHTML.slice(0, 80);
  return {id: el.dataset.a11yId ?? null, html, indicator: outline || ring};
}
"""

_TARGETS_JS = """
(minimum) => {
  const out = [];
  const controls = document.querySelectorAll(
    'button, input:not([type=hidden]):not([type=radio]):not([type=checkbox]), select, ' +
    'textarea, [role=option], label.method, label.check');
  for (const el of controls) {
    if (!el.getClientRects().length || el.closest('dialog:not([open])')) continue;
    const r = el.getBoundingClientRect();
    if (r.height < minimum - 0.5 || r.width < minimum - 0.5) {
      out.push(`${el.outerHTML.slice(0, 80)} is ${Math.round(r.width)}×${Math.round(r.height)} px`);
    }
  }
  return out;
}
"""


@dataclass
class AccessibilityReport:
    """What :func:`check_accessibility` found; empty lists mean the page passed."""

    axe: list[str]
    focus_order: list[str]
    touch_targets: list[str]

    @property
    def problems(self) -> list[str]:
        return [*self.axe, *self.focus_order, *self.touch_targets]


def axe_violations(page: Any, tags: list[str] | None = None) -> list[str]:
    """axe-core (bundled with the ``axe-playwright-python`` package) run on the page."""
    from axe_playwright_python.sync_playwright import Axe

    options = {
        "runOnly": {"type": "tag", "values": tags or AXE_TAGS},
        "resultTypes": ["violations"],
    }
    results = Axe().run(page, options=options)
    found = []
    for v in results.response.get("violations", []):
        for node in v.get("nodes", []):
            found.append(
                f"axe {v['id']}: {node.get('failureSummary', '').strip()} at {node.get('target')}"
            )
    return found


def focus_order_problems(page: Any) -> list[str]:
    """Tab through the page from the top: every visible control must be reached, in the
    order it stands in the document (no positive tabindex reshuffling it), and show a focus
    indicator (an outline or a ring) when reached by keyboard."""
    found = page.evaluate(_FOCUSABLE_JS)
    expected = found["order"]
    problems = [f"positive tabindex changes the focus order: {h}" for h in found["positive"]]
    page.evaluate("() => { document.activeElement?.blur(); window.scrollTo(0, 0); }")
    page.evaluate(
        "() => { const a = document.createElement('span'); a.tabIndex = 0; a.id = 'a11y-start';"
        " document.body.prepend(a); a.focus(); }"
    )
    reached = []
    for _ in expected:
        page.keyboard.press("Tab")
        active = page.evaluate(_ACTIVE_JS)
        if active is None:
            break
        reached.append(active)
        if not active["indicator"]:
            problems.append(f"no visible focus indicator on {active['html']}")
    page.evaluate("() => document.getElementById('a11y-start')?.remove()")
    got = [a["id"] for a in reached]
    want = [e["id"] for e in expected]
    if got != want:
        for i, (g, w) in enumerate(zip(got, want, strict=False)):
            if g != w:
                html = reached[i]["html"]
                problems.append(
                    f"Tab press {i + 1} reached {html} but the next control in the document is "
                    f"{expected[i]['html']}"
                )
                break
        else:
            problems.append(f"Tab reached {len(got)} controls, the document has {len(want)}")
    return problems


def touch_target_problems(page: Any, minimum: int = 44) -> list[str]:
    """Controls smaller than ``minimum`` CSS pixels either way (44: a fingertip)."""
    return [f"small touch target: {p}" for p in page.evaluate(_TARGETS_JS, minimum)]


def check_accessibility(page: Any, *, touch_target: int | None = 44) -> AccessibilityReport:
    """axe-core's WCAG A/AA rules, the focus order by real Tab presses and, when
    ``touch_target`` is set, the size of every control."""
    return AccessibilityReport(
        axe=axe_violations(page),
        focus_order=focus_order_problems(page),
        touch_targets=touch_target_problems(page, touch_target) if touch_target else [],
    )
