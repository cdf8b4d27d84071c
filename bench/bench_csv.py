"""CSV import of 50,000 products into SQLite against a raw Core insert of the same rows.

The file is what a network's organizers would have: semicolons, cp1252, Spanish headers,
prices with a decimal comma and thousands dots (``1.234,50`` ARS), units in Spanish, a
valid EAN on every other row, for 500 producers. The import decodes, detects the delimiter,
checks every cell (price, unit, EAN, stock, lengths), looks up producers, existing skus and
barcodes, and inserts in one transaction. The baseline inserts exactly the rows the import
wrote, already converted, with one SQLAlchemy Core ``insert()`` executemany in one
transaction on the same engine settings (WAL, ``synchronous=FULL``): what the import costs
on top of writing.
"""

from __future__ import annotations

import datetime as dt
import shutil
import statistics
import tempfile
import time
from pathlib import Path

N_PRODUCTS = 50_000
N_PRODUCERS = 500
RUNS = 3
UNITS = ("unidad", "kilo", "gramo", "litro")


def _template(path: Path) -> None:
    """A migrated database with a network, an ARS fair and the producers."""
    from feria import migrate
    from feria.catalogue.service import add_producer, create_fair, create_network
    from feria.db import make_engine, write_session

    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with write_session(engine) as db:
        net = create_network(db, "bench", "Red de prueba")
        create_fair(
            db,
            net,
            slug="bench",
            name="Feria de prueba",
            starts_on=dt.date(2026, 12, 1),
            ends_on=dt.date(2026, 12, 2),
            currency_code="ARS",
            locale="es_AR",
        )
        for i in range(N_PRODUCERS):
            add_producer(db, net, code=f"P{i:03d}", name=f"Productor {i}")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


def _csv() -> bytes:
    from stdnum import ean

    lines = [
        "Productor;Código;Nombre;Precio;Unidad;Código de barras;Existencias;Categoría;"
        "Descripción;Activo"
    ]
    for i in range(N_PRODUCTS):
        cents = 50_00 + (i * 7919) % 2_000_000
        price = f"{cents // 100:,}".replace(",", ".") + f",{cents % 100:02d}"
        code = f"779{i:09d}"
        barcode = code + ean.calc_check_digit(code) if i % 2 == 0 else ""
        lines.append(
            f"P{i % N_PRODUCERS:03d};SKU-{i:05d};Producto n.º {i}, elaboración propia;{price};"
            f"{UNITS[i % 4]};{barcode};{i % 40},5;Almacén;Hecho a mano en Córdoba;sí"
        )
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def _fresh(template: Path, tmp: Path, name: str):
    from feria.db import make_engine

    path = tmp / f"{name}.db"
    shutil.copyfile(template, path)
    return make_engine(f"sqlite:///{path}")


def _import_once(template: Path, tmp: Path, data: bytes, run: int) -> float:
    from feria.catalogue.csvio import import_products

    engine = _fresh(template, tmp, f"feria-{run}")
    started = time.perf_counter()
    report = import_products(engine, data)
    elapsed = time.perf_counter() - started
    engine.dispose()
    assert report.created == N_PRODUCTS, report
    return elapsed


def _dry_run_once(template: Path, tmp: Path, data: bytes) -> float:
    from feria.catalogue.csvio import import_products

    engine = _fresh(template, tmp, "dry-run")
    started = time.perf_counter()
    import_products(engine, data, dry_run=True)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def _imported_rows(tmp: Path) -> list[dict]:
    """The rows the first import wrote, without their ids, to insert again raw."""
    from sqlalchemy import select

    from feria.catalogue.models import Product
    from feria.db import make_engine

    table = Product.__table__
    engine = make_engine(f"sqlite:///{tmp / 'feria-0.db'}")
    columns = [c for c in table.c if c.name != "id"]
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(*columns).order_by(table.c.id))]
    engine.dispose()
    return rows


def _baseline_once(template: Path, tmp: Path, rows: list[dict], run: int) -> float:
    from sqlalchemy import insert

    from feria.catalogue.models import Product
    from feria.db import writer

    engine = _fresh(template, tmp, f"raw-{run}")
    started = time.perf_counter()
    with writer(engine).begin() as conn:
        conn.execute(insert(Product.__table__), rows)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        template = tmp / "template.db"
        _template(template)
        data = _csv()
        feria_t = [_import_once(template, tmp, data, r) for r in range(RUNS)]
        rows = _imported_rows(tmp)
        base_t = [_baseline_once(template, tmp, rows, r) for r in range(RUNS)]
        check_t = [_dry_run_once(template, tmp, data) for _ in range(RUNS)]
    f, b, c = (statistics.median(t) for t in (feria_t, base_t, check_t))
    size = f"{len(data) / 1e6:.1f} MB"
    return [
        {
            "name": f"CSV import of {N_PRODUCTS:,} products (SQLite)",
            "value": f,
            "unit": "s",
            "baseline": b,
            "ratio": f / b,
            "note": f"median of {RUNS}; {size} cp1252 file, es prices, EANs; goal < 10 s; "
            "baseline: Core executemany insert of the same converted rows; "
            "ratio = feria time / baseline time",
        },
        {
            "name": "CSV import throughput (SQLite)",
            "value": N_PRODUCTS / f,
            "unit": "rows/s",
            "baseline": N_PRODUCTS / b,
            "ratio": f / b,
            "note": "same runs as above; ratio = feria time / baseline time",
        },
        {
            "name": f"CSV dry run (check only) of {N_PRODUCTS:,} products",
            "value": c,
            "unit": "s",
            "baseline": f,
            "ratio": c / f,
            "note": f"median of {RUNS}; writes nothing, takes no write lock; "
            "baseline: the full import; ratio = dry run time / import time",
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
