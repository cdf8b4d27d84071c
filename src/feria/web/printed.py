"""The back office's view of the receipt printers: the print queue of every till, and,
when the app runs beside the virtual printer (``feria demo``), the receipts it rendered.

A receipt that did not come out is the first thing a cashier asks about; the organizer sees
here whether it is queued, printed or failing, and why.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from feria.cashbox.models import Till
from feria.cashbox.printjobs import QueuedPrintJob
from feria.db import read_session
from feria.errors import NotFound
from feria.web.auth import require_role
from feria.web.live import render_page
from feria.web.state import app_state

RECENT = 30
RENDERED = 10


def rendered_dir() -> Path | None:
    """Where the virtual printer saves what it prints (``FERIA_VIRTUAL_RECEIPTS_DIR``)."""
    raw = os.environ.get("FERIA_VIRTUAL_RECEIPTS_DIR", "").strip()
    return Path(raw) if raw and Path(raw).is_dir() else None


def _rendered() -> list[dict[str, str]]:
    folder = rendered_dir()
    if folder is None:
        return []
    texts = sorted(folder.glob("*.txt"), key=lambda p: p.stat().st_mtime, reverse=True)
    out = []
    for path in texts[:RENDERED]:
        png = path.with_suffix(".png")
        out.append(
            {
                "name": path.stem,
                "text": path.read_text(encoding="utf-8", errors="replace"),
                "png": png.name if png.exists() else "",
            }
        )
    return out


def _page(request: Request) -> Response:
    with read_session(app_state(request).engine) as db:
        jobs = db.execute(
            select(QueuedPrintJob, Till.code)
            .join(Till, Till.id == QueuedPrintJob.till_id)
            .order_by(QueuedPrintJob.id.desc())
            .limit(RECENT)
        ).all()
    return render_page(
        request,
        "backoffice/printed.html",
        {"section": "printed", "jobs": jobs, "rendered": _rendered()},
    )


async def printed(request: Request) -> Response:
    await run_in_threadpool(require_role, request, "organizer")
    return await run_in_threadpool(_page, request)


async def rendered_png(request: Request) -> Response:
    await run_in_threadpool(require_role, request, "organizer")
    folder = rendered_dir()
    name = request.path_params["name"]
    if folder is None or "/" in name or not name.endswith(".png"):
        raise NotFound("no such rendered receipt")
    path = folder / name
    if not path.is_file():
        raise NotFound("no such rendered receipt")
    return FileResponse(path, media_type="image/png")


routes = [
    Route("/backoffice/printed", printed, methods=["GET"], name="bo_printed"),
    Route("/backoffice/printed/{name}", rendered_png, methods=["GET"], name="bo_printed_png"),
]
