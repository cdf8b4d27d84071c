"""`feria demo --printer-port N` starts the virtual printer on N: the demo till must print
there, not to the 9100 the demo data names."""

from __future__ import annotations

from sqlalchemy import select

from feria import demo_server
from feria.cashbox.models import Till
from feria.db import make_engine, read_session, write_session
from feria.demo import DEMO_FAIR_SLUG
from feria.plugins import get_plugin_manager


def _printer(engine, code: str) -> dict:
    with read_session(engine) as db:
        return dict(db.scalar(select(Till.printer).where(Till.code == code)) or {})


def test_the_demo_till_prints_to_the_port_the_virtual_printer_listens_on(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    demo_server.prepare(engine, get_plugin_manager(), echo=lambda _: None)
    assert _printer(engine, "T1")["port"] == 9100

    assert demo_server.point_demo_till_at(engine, DEMO_FAIR_SLUG, 9165)
    assert _printer(engine, "T1")["port"] == 9165
    assert not demo_server.point_demo_till_at(engine, DEMO_FAIR_SLUG, 9165)
    assert _printer(engine, "T2") == {}


def test_a_printer_set_up_by_hand_is_left_alone(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'demo.db'}")
    demo_server.prepare(engine, get_plugin_manager(), echo=lambda _: None)
    real = {"driver": "escpos", "connection": "network", "host": "192.168.1.50", "port": 9100}
    with write_session(engine) as db:
        db.scalar(select(Till).where(Till.code == "T1")).printer = real
    assert not demo_server.point_demo_till_at(engine, DEMO_FAIR_SLUG, 9165)
    assert _printer(engine, "T1") == real
