"""One label, one JSON shape: the till's search answers and the print jobs carry the same."""

import datetime as dt

from feria.labels import HeldLabel, Label, as_json

LABEL = Label("pgs", "Agroecológico SPG", "Red SPG", dt.date(2027, 2, 28), "/registry/4")


def test_a_label_as_the_till_shows_it():
    assert as_json(LABEL) == {
        "scheme": "pgs",
        "name": "Agroecológico SPG",
        "granted_by": "Red SPG",
        "valid_until": "2027-02-28",
        "url": "/registry/4",
    }


def test_a_held_label_as_printed_says_what_it_covers_and_its_full_address():
    held = HeldLabel(LABEL, ("Miel",))
    assert as_json(held, "https://feria.example.org") == {
        **as_json(LABEL),
        "url": "https://feria.example.org/registry/4",
        "only": ["Miel"],
    }
    assert as_json(held, "")["url"] == ""  # no base address: a path leads nowhere on paper
