"""A printable sheet of vouchers: one card-sized voucher per cell, each with its value,
serial and QR code (the signed payload). Needs the optional ``qrcode`` package
(``pip install feria-social-currency[print]``)."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from feria_social_currency.errors import InvalidCurrency
from feria_social_currency.vouchers import IssuedVoucher

COLUMNS = 2
WIDTH, HEIGHT = 90, 50  # millimetres, a business card
QR_SIZE = 40


def _qr_path(payload: str) -> tuple[str, int]:
    try:
        import qrcode
    except ImportError as exc:
        raise InvalidCurrency(
            "drawing vouchers needs the qrcode package: pip install 'feria-social-currency[print]'"
        ) from exc
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    qr.add_data(payload)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    path = "".join(
        f"M{x},{y}h1v1h-1z" for y, row in enumerate(matrix) for x, on in enumerate(row) if on
    )
    return path, len(matrix)


def vouchers_svg(vouchers: Sequence[IssuedVoucher], title: str = "") -> str:
    rows = (len(vouchers) + COLUMNS - 1) // COLUMNS
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{COLUMNS * WIDTH}mm" '
        f'height="{rows * HEIGHT}mm" viewBox="0 0 {COLUMNS * WIDTH} {rows * HEIGHT}">'
    ]
    for i, v in enumerate(vouchers):
        x, y = (i % COLUMNS) * WIDTH, (i // COLUMNS) * HEIGHT
        path, size = _qr_path(v.payload)
        scale = QR_SIZE / size
        parts.append(
            f'<g transform="translate({x},{y})">'
            f'<rect x="1" y="1" width="{WIDTH - 2}" height="{HEIGHT - 2}" fill="none" '
            'stroke="black" stroke-width="0.3" stroke-dasharray="2,1"/>'
            f'<text x="5" y="14" font-family="sans-serif" font-size="8" font-weight="bold">'
            f"{escape(str(v.amount))}</text>"
            f'<text x="5" y="22" font-family="sans-serif" font-size="3.5">{escape(title)}</text>'
            f'<text x="5" y="44" font-family="monospace" font-size="3.5">{escape(v.serial)}</text>'
            f'<path transform="translate({WIDTH - QR_SIZE - 5},5) scale({scale})" d="{path}"/>'
            "</g>"
        )
    parts.append("</svg>")
    return "".join(parts)
