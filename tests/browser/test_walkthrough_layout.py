"""What a newcomer sees trying the demo on a laptop and on a phone: nothing peeks out where it
should not, and what the cashier typed last never lingers into the next sale."""

from __future__ import annotations

import pytest

from feria.testing.browser import LAPTOP, PHONE

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_the_skip_link_is_out_of_sight_until_it_has_the_focus(new_page, viewport):
    page = new_page(viewport)
    page.goto("/")
    link = page.locator(".skip-link")
    box = link.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 0, box
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    box = link.bounding_box()
    assert box is not None and box["y"] >= 0, box
