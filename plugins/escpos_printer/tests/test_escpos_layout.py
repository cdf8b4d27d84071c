"""How receipts, reports and slips come out on paper: every line and figure, Spanish and
Portuguese accents, the paper's width, the QR code, the cash drawer."""

from __future__ import annotations

import re

import pytest
from escpos_samples import URL, sample_receipt
from feria_escpos_printer import EscposPrinter, feria_receipt_printer
from feria_escpos_printer.layout import render
from feria_escpos_printer.paper import UnknownPaperProfile, load_profile

from feria.printing import PrintJob

ACCENTED = "Piñón, açaí e pão: ñ á é í ó ú ç ã õ"


def receipt_bytes(profile: str = "80mm", **job) -> bytes:
    payload = job.pop("payload", None) or sample_receipt()
    return render(PrintJob("receipt", payload, **job), load_profile({"profile": profile}))


def test_spanish_and_portuguese_accents_print_in_code_page_850(read_back):
    data = receipt_bytes()

    assert data.count(b"\x1bt\x02") == 1, "CP850 chosen once, right after ESC @"
    assert data.startswith(b"\x1b@\x1bt\x02")
    assert ACCENTED.encode("cp850") in data
    (receipt,) = read_back(data, "80mm")
    assert ACCENTED in receipt.text
    assert "?" not in receipt.text, "no character fell outside the code page"
    assert "FERIA NAVIDEÑA DE LA ECONOMÍA SOLIDARIA" in receipt.text
    assert "Cooperativa Têxtil São João" in receipt.text
    assert "¡Gracias por comprar a quien produce!" in receipt.text


def test_characters_outside_the_code_page_become_their_plain_look_alikes(read_back):
    payload = sample_receipt()
    payload["groups"][0]["lines"][0]["description"] = "Miel “premium” — 100€"

    (receipt,) = read_back(receipt_bytes(payload=payload), "80mm")

    assert 'Miel "premium" - 100EUR' in receipt.text


def test_the_receipt_has_every_line_the_totals_each_tender_the_change_and_the_fund(read_back):
    (receipt,) = read_back(receipt_bytes(), "80mm")
    text = receipt.text

    for expected in (
        "Plaza Ñuñoa, Santiago",
        "Comprobante N° 42",
        "24/12/2026 18:03",
        "Caja 1 (T1)",
        "Atendió: Ana Pérez",
        "P01 Miel del Sur",
        "Miel de ulmo",
        "P07 Cooperativa Têxtil São João",
        "Registro 128 0123456789abcdef",
        "Verifique esta venta en",
        URL,
    ):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    assert re.search(r"^  0,5 kg x \$8\.000/kg +\$4\.000$", text, re.M)
    assert re.search(r"^  2 x \$12\.990 +\$25\.980$", text, re.M)
    assert re.search(r"^TOTAL +\$29\.980$", text, re.M)
    assert re.search(r"^Efectivo +\$30\.000$", text, re.M)
    assert re.search(r"^Vuelto +\$20$", text, re.M)
    assert re.search(r"^Aporte al fondo solidario \(5%\) +\$1\.499$", text, re.M)
    assert receipt.qr_codes == [URL]
    assert receipt.cut


def test_the_fund_is_left_off_when_the_fair_does_not_show_it(read_back):
    (receipt,) = read_back(receipt_bytes(payload=sample_receipt(solidarity=None)), "80mm")
    assert "fondo solidario" not in receipt.text


def test_portuguese_fairs_get_portuguese_words(read_back):
    payload = sample_receipt()
    payload["fair"] = {**payload["fair"], "locale": "pt_BR", "currency": "BRL"}
    payload["currency"] = "BRL"
    payload["tenders"][0]["currency"] = "BRL"

    (receipt,) = read_back(receipt_bytes(payload=payload, copy=True), "80mm")

    assert "Comprovante Nº 42" in receipt.text
    assert re.search(r"^Dinheiro +R\$ 300,00$", receipt.text, re.M)
    assert re.search(r"^Troco +R\$ 0,20$", receipt.text, re.M)
    assert "CÓPIA" in receipt.text


@pytest.mark.parametrize(("profile", "columns", "dots"), [("58mm", 32, 384), ("80mm", 48, 576)])
def test_every_line_fits_the_paper_58mm_and_80mm(read_back, profile, columns, dots):
    data = receipt_bytes(profile)

    (on_its_paper,) = read_back(data, profile)
    (on_wide_paper,) = read_back(data, "80mm")

    lines = [ln for ln in on_its_paper.lines if not ln.strip().startswith("[QR")]
    assert max(len(line) for line in lines) == columns
    assert f"{'-' * columns}" in lines and f"{'-' * (columns + 1)}" not in on_its_paper.text
    # The layout wraps, never the printer: the same bytes read the same on wider paper.
    assert [ln.strip() for ln in on_wide_paper.lines] == [ln.strip() for ln in on_its_paper.lines]
    assert on_its_paper.image().width == dots + 32
    assert on_its_paper.qr_codes == [URL]


def test_58mm_receipts_put_an_amount_with_no_room_beside_its_label_under_it(read_back):
    (receipt,) = read_back(receipt_bytes("58mm"), "58mm")
    lines = receipt.lines
    i = lines.index("Aporte al fondo solidario (5%)")  # 30 columns: no room for $1.499
    assert lines[i + 1] == " " * 26 + "$1.499"


@pytest.mark.parametrize("native", [False, True], ids=["image", "native"])
def test_the_qr_code_decodes_to_the_verification_url(read_back, native):
    from feria_virtual_printer import Interpreter, decode_qr

    paper = load_profile({"profile": "58mm", "qr_native": native})
    data = render(PrintJob("receipt", sample_receipt()), paper)

    assert (b"\x1d(k" in data) is native
    (receipt,) = read_back(data, "58mm")
    assert receipt.qr_codes == [URL]
    interpreter = Interpreter(384)
    interpreter.feed(data)
    (page,) = interpreter.finish()
    pictures = [item for item in page.items if hasattr(item, "image")]
    assert len(pictures) == 1
    assert decode_qr(pictures[0].image) == [URL], "the printed picture itself must scan"


def test_the_drawer_is_kicked_only_when_the_job_asks_and_never_on_a_copy():
    kick = b"\x1bp\x00"
    assert kick in receipt_bytes(open_drawer=True)
    assert kick not in receipt_bytes(open_drawer=False)
    assert kick not in receipt_bytes(open_drawer=True, copy=True)
    paper = load_profile({"profile": "80mm"})
    job = PrintJob("receipt", sample_receipt(), open_drawer=True)
    assert kick not in render(job, paper, {"drawer": False})


def test_a_copy_says_copia_at_the_top_and_at_the_bottom(read_back):
    (receipt,) = read_back(receipt_bytes(copy=True), "80mm")
    lines = [ln.strip() for ln in receipt.lines if ln.strip()]
    assert lines[0] == "COPIA" and lines[-1] == "COPIA"


Z_REPORT = {
    "fair": sample_receipt()["fair"],
    "till": {"id": 1, "code": "T1", "name": "Caja 1"},
    "cashier": "Ana Pérez",
    "session": 7,
    "currency": "CLP",
    "opened_at": "2026-12-24T09:00:00",
    "closed_at": "2026-12-24T19:30:00",
    "printed_at": "2026-12-24T19:30:05",
    "float": 20000,
    "counts": {"sale": 3, "refund": 1, "void": 0},
    "totals": {"sale": 60000, "refund": -5000, "void": 0},
    "by_method": [
        {"method": "cash", "name": "Cash", "amounts": {"CLP": 40000}},
        {"method": "card", "name": "Card", "amounts": {"CLP": 15000}},
    ],
    "by_producer": [{"code": "P01", "name": "Miel del Sur", "amounts": {"CLP": 55000}}],
    "movements": {"paid_out": {"CLP": 3000}},
    "expected_cash": {"CLP": 57000},
    "counted_cash": {"CLP": 56500},
    "discrepancy": {"CLP": -500},
    "seq": 300,
    "hash": "fedcba9876543210" * 4,
}


def test_the_z_report_adds_up_the_session_and_asks_for_a_signature(read_back):
    paper = load_profile({"profile": "80mm"})
    (report,) = read_back(render(PrintJob("z_report", Z_REPORT), paper), "80mm")
    text = report.text

    assert "INFORME Z - CIERRE" in text
    assert re.search(r"^Caja 1 \(T1\) +Sesión 7$", text, re.M)
    assert re.search(r"^Ventas \(3\) +\$60\.000$", text, re.M)
    assert re.search(r"^Devoluciones \(1\) +\$-5\.000$", text, re.M)
    assert re.search(r"^Efectivo +\$40\.000$", text, re.M)
    assert re.search(r"^Tarjeta +\$15\.000$", text, re.M)
    assert re.search(r"^P01 Miel del Sur +\$55\.000$", text, re.M)
    assert re.search(r"^Retiros de caja +\$3\.000$", text, re.M)
    assert re.search(r"^Efectivo esperado +\$57\.000$", text, re.M)
    assert re.search(r"^Efectivo contado +\$56\.500$", text, re.M)
    assert re.search(r"^Diferencia +\$-500$", text, re.M)
    assert "Registro 300 fedcba9876543210" in text
    assert "Firma:" in text
    assert report.drawer_kicks == 0


def test_the_settlement_slip_shows_what_is_owed_and_asks_the_producer_to_sign(read_back):
    slip = {
        "fair": sample_receipt()["fair"],
        "producer": {"code": "P07", "name": "Cooperativa Textil", "kind": "cooperative"},
        "rows": [
            {
                "currency": "CLP",
                "gross": 100000,
                "refunds": -10000,
                "withheld": 4500,
                "fees": 300,
                "net": 85200,
                "paid": 50000,
                "balance": 35200,
                "members": [
                    {
                        "member": 1,
                        "name": "Ana",
                        "share_bp": 6000,
                        "net": 51120,
                        "paid": 30000,
                        "balance": 21120,
                    },
                ],
            }
        ],
        "payouts": [
            {
                "payout": 1,
                "producer": 3,
                "currency": "CLP",
                "amount": 50000,
                "method": "cash",
                "reference": "",
                "at": "2026-12-24T20:00:00.000000",
                "seq": 310,
                "acknowledged_at": "2026-12-24T20:01:00.000000",
                "ack_seq": 311,
            },
        ],
        "as_of": {"seq": 311, "hash": "ab" * 32},
        "digest": "cd" * 32,
        "printed_at": "2026-12-24T20:05:00",
    }
    paper = load_profile({"profile": "58mm"})
    (printed,) = read_back(render(PrintJob("settlement_slip", slip), paper), "58mm")
    text = printed.text

    assert "LIQUIDACIÓN" in text
    assert "P07 Cooperativa Textil" in text
    assert re.search(r"^Ventas brutas +\$100\.000$", text, re.M)
    assert re.search(r"^Fondo solidario +\$-4\.500$", text, re.M)
    assert re.search(r"^Neto +\$85\.200$", text, re.M)
    assert re.search(r"^Saldo +\$35\.200$", text, re.M)
    assert re.search(r"^  Ana \(60%\) +\$21\.120$", text, re.M)
    assert "24/12/2026 20:00 cash recibido" in text
    assert "Al registro 311 abababababababab" in text
    assert "Firma del productor/a:" in text


def test_the_test_page_shows_the_accents_the_full_width_and_a_qr(read_back):
    job = PrintJob(
        "test_page",
        {
            "fair": sample_receipt()["fair"],
            "till": {"code": "T1", "name": "Caja 1"},
            "settings": {"connection": "network", "host": "10.0.0.9"},
            "printed_at": "2026-12-24T08:00:00",
        },
    )
    settings = {"connection": "network", "host": "10.0.0.9", "profile": "58mm"}
    (page,) = read_back(EscposPrinter(settings).render(job), "58mm")

    assert "PÁGINA DE PRUEBA" in page.text
    assert "ñ á é í ó ú ü ç ã õ" in page.text
    assert "12345678901234567890123456789012" in page.lines
    assert page.qr_codes == ["feria test page T1"]


def test_the_plugin_serves_only_tills_whose_driver_is_escpos():
    assert feria_receipt_printer(till=None, settings={"driver": "cups"}) is None
    assert feria_receipt_printer(till=None, settings={}) is None
    printer = feria_receipt_printer(
        till=None, settings={"driver": "escpos", "host": "10.0.0.9", "profile": "58mm"}
    )
    assert isinstance(printer, EscposPrinter)
    assert printer.paper.columns == 32


def test_paper_profiles_come_from_the_hardware_folder_and_unknown_ones_are_named():
    assert load_profile({}).name == "80mm"
    assert load_profile({"profile": "58mm"}).dots == 384
    assert load_profile({"profile": "58mm", "columns": 30}).columns == 30
    with pytest.raises(UnknownPaperProfile, match="'112mm'"):
        load_profile({"profile": "112mm"})
