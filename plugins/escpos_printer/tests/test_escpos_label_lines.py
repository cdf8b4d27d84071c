"""Certification labels on a printed receipt: under each producer's lines, the label, the
lines it covers when not all, until when and its registry address, within the paper's
width on 58 mm and 80 mm rolls, with no extra QR code."""

from __future__ import annotations

import pytest
from escpos_samples import URL, sample_receipt
from feria_escpos_printer.layout import render
from feria_escpos_printer.paper import load_profile

from feria.printing import PrintJob

SHORT = "https://feria.example.org/-/plugins/pgs/registry/7"
LONG = "https://mercado-solidario.ejemplo.org.ar/-/plugins/pgs/registry/1234"


def labelled_receipt() -> dict:
    payload = sample_receipt()
    payload["groups"][0]["labels"] = [
        {
            "scheme": "agro",
            "name": "Agroecológico SPG",
            "granted_by": "Comité de garantía",
            "valid_until": "2027-01-31",
            "url": SHORT,
            "only": ["Miel de ulmo"],
        }
    ]
    payload["groups"][1]["labels"] = [
        {
            "scheme": "sin-patron",
            "name": "Hecho sin patrón",
            "granted_by": "Comité de garantía",
            "valid_until": "2028-01-31",
            "url": LONG,
            "only": [],
        }
    ]
    return payload


def printed(payload: dict, profile: str, read_back, **job):
    (receipt,) = read_back(
        render(PrintJob("receipt", payload, **job), load_profile({"profile": profile})), profile
    )
    return receipt


def test_each_producers_labels_print_under_its_lines_with_the_date_and_address(read_back):
    lines = printed(labelled_receipt(), "80mm", read_back).lines

    honey = lines.index("  Sello: Agroecológico SPG (Miel de ulmo)")
    assert lines[honey - 1].startswith("  0,5 kg x $8.000/kg")
    assert lines[honey + 1 : honey + 3] == [
        "    Vigente hasta 31/01/2027",
        "    feria.example.org/-/plugins/pgs/registry/7",
    ]
    coop = lines.index("  Sello: Hecho sin patrón")
    assert lines[coop - 1].startswith("  2 x $12.990")
    assert lines[coop + 1] == "    Vigente hasta 31/01/2028"
    # Too long for one indented line: flush left, cut at the width only, never lost.
    address = LONG.removeprefix("https://")
    assert lines[coop + 2 : coop + 4] == [address[:48], address[48:]]


@pytest.mark.parametrize(("profile", "columns"), [("58mm", 32), ("80mm", 48)])
def test_label_lines_fit_the_paper_and_add_no_qr_code(read_back, profile, columns):
    receipt = printed(labelled_receipt(), profile, read_back)
    plain = printed(sample_receipt(), profile, read_back)

    assert max(len(line) for line in receipt.lines if not line.strip().startswith("[QR")) <= columns
    assert receipt.qr_codes == plain.qr_codes == [URL]
    added = len(receipt.lines) - len(plain.lines)
    assert 0 < added <= 4 + 5, "a label is three or four short lines (a long address five)"
    joined = "".join(receipt.lines)
    assert SHORT.removeprefix("https://") in joined and LONG.removeprefix("https://") in joined


def test_a_receipt_without_labels_prints_as_before(read_back):
    payload = sample_receipt()
    for group in payload["groups"]:
        group["labels"] = []
    assert render(PrintJob("receipt", payload), load_profile({"profile": "80mm"})) == render(
        PrintJob("receipt", sample_receipt()), load_profile({"profile": "80mm"})
    )


def test_labels_speak_the_fairs_language(read_back):
    payload = labelled_receipt()
    payload["fair"] = {**payload["fair"], "locale": "pt_BR"}

    text = printed(payload, "80mm", read_back).text

    assert "  Selo: Hecho sin patrón" in text
    assert "    Válido até 31/01/2028" in text
