"""CSV import and export of producers and products, as organizers' spreadsheets have them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from feria.catalogue.csvio import (
    CsvImportError,
    export_producers,
    export_products,
    import_producers,
    import_products,
)
from feria.catalogue.models import Network, Participation, Producer, Product
from feria.catalogue.service import (
    InvalidCatalogue,
    add_producer,
    add_product,
    create_fair,
    create_network,
)
from feria.cli import main
from feria.db import make_engine, read_session, write_session

DATA = Path(__file__).parent / "data" / "csv"


def make_network(engine, slug="red-sur", *, currency="ARS", locale="es_AR", fair=True):
    with write_session(engine) as db:
        net = create_network(db, slug, "Red del Sur")
        if fair:
            create_fair(
                db,
                net,
                slug=f"feria-{slug}",
                name="Feria del Sur",
                starts_on=dt.date(2026, 12, 5),
                ends_on=dt.date(2026, 12, 6),
                currency_code=currency,
                locale=locale,
            )


def products(engine) -> dict[str, Product]:
    with read_session(engine) as db:
        return {p.sku: p for p in db.scalars(select(Product))}


def producers(engine) -> dict[str, Producer]:
    with read_session(engine) as db:
        found = db.scalars(select(Producer)).all()
        for p in found:
            p.members  # noqa: B018 -- loaded before the session closes
        return {p.code: p for p in found}


def count(engine, model) -> int:
    with read_session(engine) as db:
        return db.scalar(select(func.count()).select_from(model))


def csv_bytes(text: str, encoding: str = "utf-8") -> bytes:
    return text.replace("\n", "\r\n").encode(encoding)


def refusal(excinfo) -> list[tuple[int, str | None]]:
    return [(e.line, e.column) for e in excinfo.value.errors]


@pytest.fixture
def fresh_database_url(another_database):
    """A second empty migrated database of the same kind, to import an export into."""
    return another_database()


def feria(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


# -- reading real spreadsheets ---------------------------------------------------------------


def test_semicolon_cp1252_file_with_spanish_headers_and_decimal_comma_imports(engine):
    make_network(engine)

    report = import_producers(
        engine, (DATA / "productores_es_cp1252.csv").read_bytes(), fair="feria-red-sur"
    )
    assert (report.encoding, report.delimiter, report.created) == ("cp1252", ";", 3)
    report = import_products(engine, (DATA / "productos_es_cp1252.csv").read_bytes())
    assert (report.encoding, report.delimiter, report.created) == ("cp1252", ";", 3)

    made = producers(engine)
    assert made["P10"].name == "Miel de Ñuble" and made["P10"].place == "Chillán"
    assert made["P11"].kind == "association"
    assert made["P12"].kind == "cooperative"
    assert made["P12"].story == "Tejidos; lana de alpaca"
    assert [(m.name, m.share_bp) for m in made["P12"].members] == [
        ("Ana María", 6000),
        ("Luis", 4000),
    ]
    with read_session(engine) as db:
        stalls = set(db.execute(select(Participation.stall)).scalars())
    assert stalls == {"A3", "A4", "B2"}

    items = products(engine)
    assert (items["MIEL-500"].price, items["MIEL-500"].currency) == (123450, "ARS")
    assert items["MIEL-500"].barcode == "7790000000010"
    assert (items["POLEN"].price, items["POLEN"].unit, items["POLEN"].stock) == (
        850000,
        "kg",
        "2.5",
    )
    assert items["GORRO"].description == "Talla única; lavar a mano"
    assert items["GORRO"].active is False


def test_tab_separated_file_with_portuguese_headers_and_bom_imports(engine):
    make_network(engine, "rede-sp", currency="BRL", locale="pt_BR")

    report = import_producers(engine, (DATA / "produtores_pt_bom.tsv").read_bytes())
    assert (report.encoding, report.delimiter, report.created) == ("utf-8", "\t", 2)
    report = import_products(engine, (DATA / "produtos_pt_bom.tsv").read_bytes())
    assert report.created == 3

    made = producers(engine)
    assert made["B01"].payout_details == "Pix: horta@example.org"
    assert [(m.name, m.share_bp) for m in made["B02"].members] == [
        ("João", 5000),
        ("Conceição", 5000),
    ]
    items = products(engine)
    assert (items["ALFACE"].price, items["ALFACE"].unit) == (350, "piece")
    assert (items["CAFE-KG"].price, items["CAFE-KG"].unit) == (123490, "kg")
    assert items["CAFE-KG"].stock == "10.5"
    assert (items["ACUCAR"].unit, items["ACUCAR"].active) == ("g", False)


def test_utf8_without_bom_and_commas_in_english_import(engine, fair):
    data = csv_bytes(
        'Producer,SKU,Name,Price,Unit\nP01,JAR,"Honey, 1 kg jar","$12.990",piece\n'
        "p02,EGGS,Eggs,4500,piece\n"
    )
    report = import_products(engine, data, locale="es_CL")
    assert (report.encoding, report.delimiter, report.created) == ("utf-8", ",", 2)
    assert products(engine)["JAR"].price == 12990
    assert products(engine)["EGGS"].currency == "CLP"  # the fair's


def test_imported_and_renamed_products_are_sorted_by_their_names(engine, fair):
    import_products(engine, csv_bytes("producer,sku,name,price\nP01,B,Bálsamo,1000\n"))
    assert products(engine)["B"].sort_name == "balsamo"

    import_products(engine, csv_bytes("producer,sku,name,price\nP01,B,Ñandú de lana,1000\n"))
    assert products(engine)["B"].sort_name == "n~andu de lana"


# -- all or nothing --------------------------------------------------------------------------


def test_file_with_three_bad_rows_writes_nothing_and_lists_all_three(engine, fair):
    before = count(engine, Product)
    data = csv_bytes(
        "productor;sku;nombre;precio;unidad\n"
        "P01;A;Miel;1.000;kg\n"
        "P01;B;Miel oscura;-500;kg\n"
        "P02;C;Tomates;300;g\n"
        "P02;D;Lechugas;800;docena\n"
        "P99;E;Pan;1.500;unidad\n"
        "P02;F;Papas;900;kg\n"
    )
    with pytest.raises(CsvImportError) as excinfo:
        import_products(engine, data)

    assert refusal(excinfo) == [(3, "precio"), (5, "unidad"), (6, "productor")]
    messages = [e.message for e in excinfo.value.errors]
    assert "0 or more" in messages[0]
    assert "piece" in messages[1] and "'docena'" in messages[1]
    assert "no producer P99" in messages[2]
    assert "3 problems in the file, nothing was imported" in str(excinfo.value)
    assert "line 3, column precio: expected a price of 0 or more" in str(excinfo.value)
    assert count(engine, Product) == before


def test_duplicate_producer_codes_in_the_file_are_refused(engine, fair):
    data = csv_bytes("code,name\nP20,Panadería\nP21,Quesos\np20,Otra panadería\n")
    with pytest.raises(CsvImportError) as excinfo:
        import_producers(engine, data)
    assert refusal(excinfo) == [(4, "code")]
    assert "already on line 2" in excinfo.value.errors[0].message
    assert "P20" not in producers(engine)


def test_cooperative_whose_member_shares_do_not_add_up_to_100_is_refused(engine, fair):
    data = csv_bytes("codigo;nombre;tipo;socios\nP30;Coop Sur;cooperativa;Ana:60|Luis:30\n")
    with pytest.raises(CsvImportError) as excinfo:
        import_producers(engine, data)
    assert refusal(excinfo) == [(2, "socios")]
    assert excinfo.value.errors[0].message == "shares add up to 90%, expected 100%"
    assert "P30" not in producers(engine)


def test_members_of_a_producer_that_is_not_a_cooperative_are_refused(engine, fair):
    data = csv_bytes("codigo;nombre;socios\nP31;Ana;Ana:100\n")
    with pytest.raises(CsvImportError) as excinfo:
        import_producers(engine, data)
    assert refusal(excinfo) == [(2, "socios")]
    assert "only a cooperative has members" in excinfo.value.errors[0].message


def test_invalid_ean_barcode_is_refused(engine, fair):
    data = csv_bytes("producer,sku,name,price,barcode\nP01,A,Miel,1000,7800000000017\n")
    with pytest.raises(CsvImportError) as excinfo:
        import_products(engine, data)
    assert refusal(excinfo) == [(2, "barcode")]
    assert "not a valid EAN-13/EAN-8 barcode" in excinfo.value.errors[0].message


def test_barcode_already_used_by_another_product_is_refused(engine, fair):
    data = csv_bytes("producer,sku,name,price,barcode\nP02,NEW,Ajo,1000,7800000000016\n")
    with pytest.raises(CsvImportError) as excinfo:
        import_products(engine, data)
    assert refusal(excinfo) == [(2, "barcode")]
    assert "already the barcode of P01 MIEL-KG" in excinfo.value.errors[0].message


def test_negative_price_is_refused(engine, fair):
    data = csv_bytes("producer,sku,name,price\nP01,A,Miel,-1.000\n")
    with pytest.raises(CsvImportError) as excinfo:
        import_products(engine, data)
    assert refusal(excinfo) == [(2, "price")]
    assert "A" not in products(engine)


def test_unknown_currency_is_refused_as_option_and_as_cell(engine, fair):
    data = csv_bytes("producer;sku;name;price;moneda\nP01;A;Miel;1000;XYZ\nP01;B;Miel;1000;\n")
    with pytest.raises(InvalidCatalogue, match="unknown currency 'XYZ'"):
        import_products(engine, data, currency_code="XYZ")
    with pytest.raises(CsvImportError) as excinfo:
        import_products(engine, data)
    assert refusal(excinfo) == [(2, "moneda")]
    assert "unknown currency 'XYZ'" in excinfo.value.errors[0].message
    assert count(engine, Product) == 4  # the fair's own, nothing more


def test_malformed_csv_is_refused_with_its_line(engine, fair):
    data = csv_bytes('code;name\nP40;Huerta\nP41;"La Buena" Huerta\nP42;Quesos\n')
    with pytest.raises(CsvImportError) as excinfo:
        import_producers(engine, data)
    assert refusal(excinfo) == [(3, None)]
    assert "double quotes" in excinfo.value.errors[0].message
    assert "P40" not in producers(engine)


def test_missing_and_misspelt_columns_are_refused_unknown_ones_only_warned(engine, fair):
    with pytest.raises(CsvImportError) as excinfo:
        import_products(engine, csv_bytes("productor;sku;nombre;precoi\nP01;A;Miel;1000\n"))
    assert refusal(excinfo) == [(1, "precoi"), (1, None)]
    assert "did you mean" in excinfo.value.errors[0].message
    assert "missing column price" in excinfo.value.errors[1].message

    report = import_products(
        engine, csv_bytes("productor;sku;nombre;precio;notas\nP01;A;Miel;1000;ok\n")
    )
    assert report.created == 1
    assert "'notas' is not read" in report.warnings[0]


def test_prices_with_separators_need_a_locale_when_no_fair_gives_one(engine):
    make_network(engine, fair=False)
    with write_session(engine) as db:
        add_producer(db, db.scalar(select(Network)), code="P01", name="Miel")
    data = csv_bytes("producer;sku;name;price\nP01;A;Miel;12,50\nP01;B;Polen;1250\n")
    with pytest.raises(CsvImportError) as excinfo:
        import_products(engine, data, currency_code="BRL")
    assert refusal(excinfo) == [(2, "price")]
    assert "say which locale" in excinfo.value.errors[0].message

    import_products(engine, data, currency_code="BRL", locale="pt_BR")
    assert products(engine)["A"].price == 1250 and products(engine)["B"].price == 125000


def test_stall_column_needs_a_fair(engine, fair):
    with pytest.raises(CsvImportError) as excinfo:
        import_producers(engine, csv_bytes("code;name;puesto\nP50;Flores;C1\n"))
    assert refusal(excinfo) == [(1, "puesto")]


# -- dry run and updates ---------------------------------------------------------------------


def test_dry_run_reports_counts_and_writes_nothing(engine, fair):
    data = csv_bytes("producer;sku;name;price\nP01;MIEL-KG;Miel;9.000\nP01;NEW;Polen;3.000\n")
    report = import_products(engine, data, dry_run=True)
    assert (report.created, report.updated, report.dry_run) == (1, 1, True)
    assert "nothing was written" in report.summary()
    assert "NEW" not in products(engine)
    assert products(engine)["MIEL-KG"].price == 8000


def test_existing_codes_are_updated_only_in_the_columns_the_file_has(engine, fair):
    report = import_producers(engine, csv_bytes("code;name\nP01;Miel del Sur Ltda.\nP20;Pan\n"))
    assert (report.created, report.updated) == (1, 1)
    made = producers(engine)
    assert made["P01"].name == "Miel del Sur Ltda."
    assert made["P07"].kind == "cooperative"
    assert count(engine, Producer) == 5

    data = csv_bytes("producer;sku;name;price;stock\nP01;MIEL-KG;Miel de ulmo;9.500;3,25\n")
    report = import_products(engine, data)
    assert (report.created, report.updated) == (0, 1)
    honey = products(engine)["MIEL-KG"]
    assert (honey.name, honey.price, honey.stock) == ("Miel de ulmo", 9500, "3.25")
    assert (honey.unit, honey.barcode) == ("kg", "7800000000016")  # columns not in the file


def test_cooperative_members_are_matched_by_name_when_updated(engine, fair):
    data = csv_bytes("code;name;kind;members\nP07;Cooperativa Textil;cooperativa;Ana:50|Rosa:50\n")
    import_producers(engine, data)
    members = producers(engine)["P07"].members
    assert [(m.name, m.share_bp) for m in members] == [("Ana", 5000), ("Rosa", 5000)]
    assert members[0].id == fair.members["Ana"]  # her past shares still point at her


def test_member_with_sales_split_to_them_cannot_be_removed(engine, sell, fair):
    sell(
        [{"product_id": fair.products["scarf"], "quantity": "1"}],
        [{"method": "cash", "amount": 12990}],
    )
    data = csv_bytes("code;name;kind;members\nP07;Cooperativa Textil;cooperativa;Ana:100\n")
    with pytest.raises(CsvImportError) as excinfo:
        import_producers(engine, data)
    assert refusal(excinfo) == [(2, "members")]
    assert "Luis has sales split to them" in excinfo.value.errors[0].message


# -- export and round trip -------------------------------------------------------------------


def test_export_import_export_round_trip_gives_identical_bytes(
    engine, fair, fresh_database_url, database_url, tmp_path
):
    with write_session(engine) as db:
        net = db.scalar(select(Network))
        coop = add_producer(
            db,
            net,
            code="P08",
            name='Cooperativa "La Minga"; Chiloé',
            kind="cooperative",
            members=[("Ana", 3333), ("Bea", 3333), ("Caro", 3334)],
            story="Tejemos desde 1990.\nLana de oveja; teñida a mano.",
            contact_email="minga@example.org",
        )
        add_product(
            db,
            coop,
            sku="MANTA",
            name="Manta",
            price=45990,
            currency_code="CLP",
            stock="2.5",
            description='Talla "grande"; lavar en frío',
            category="Tejidos",
            active=False,
        )
        add_product(db, coop, sku="USD-1", name="Manta (USD)", price=12050, currency_code="USD")
    fresh = make_engine(fresh_database_url)
    with write_session(fresh) as db:
        create_network(db, "red-test", "Red de prueba")

    first = {what: tmp_path / f"{what}-1.csv" for what in ("producers", "products")}
    again = {what: tmp_path / f"{what}-2.csv" for what in ("producers", "products")}
    for what, path in first.items():
        result = feria("--database", database_url, "export", what, "-o", path, "--locale", "es_CL")
        assert result.exit_code == 0, result.output
    for what, path in first.items():
        result = feria(
            "--database",
            fresh_database_url,
            "import",
            what,
            path,
            *(["--locale", "es_CL", "--currency", "CLP"] if what == "products" else []),
        )
        assert result.exit_code == 0, result.output
    for what, path in again.items():
        result = feria(
            "--database", fresh_database_url, "export", what, "-o", path, "--locale", "es_CL"
        )
        assert result.exit_code == 0, result.output

    for what in first:
        assert again[what].read_bytes() == first[what].read_bytes()
    text = first["producers"].read_bytes().decode("utf-8-sig")
    assert text.startswith("código;nombre;tipo;historia;lugar;correo")
    assert "Ana:33,33|Bea:33,33|Caro:33,34" in text
    products_text = first["products"].read_bytes().decode("utf-8-sig")
    assert "P08;USD-1;Manta (USD);120,50;USD;unidad" in products_text
    assert count(fresh, Product) == count(engine, Product)
    fresh.dispose()


def test_text_that_starts_like_a_formula_is_exported_as_text_and_imported_back_as_it_was(
    engine, fresh_database_url
):
    make_network(engine, fair=False)
    name = '=HYPERLINK("http://x.example","y")'
    with write_session(engine) as db:
        net = db.scalar(select(Network))
        p = add_producer(db, net, code="F01", name=name, contact_phone="+54 9 11 5555")
        p.story = "'=already quoted"
        add_product(
            db, p, sku="S1", name="@SUM(1+1)", price=1500, currency_code="ARS", description="-5"
        )
    people = export_producers(engine, locale="es_AR", bom=False).decode()
    goods = export_products(engine, locale="es_AR", bom=False).decode()
    row = people.splitlines()[1].split(";")
    assert row[1] == '"\'=HYPERLINK(""http://x.example"",""y"")"'
    assert "''=already quoted" in row and "'+54 9 11 5555" in row
    assert goods.splitlines()[1].split(";")[:4] == ["F01", "S1", "'@SUM(1+1)", "15,00"]
    assert goods.splitlines()[1].split(";")[9] == "'-5"

    fresh = make_engine(fresh_database_url)
    make_network(fresh, fair=False)
    import_producers(fresh, people.encode())
    import_products(fresh, goods.encode(), currency_code="ARS", locale="es_AR")
    (back,) = producers(fresh).values()
    assert (back.name, back.story, back.contact_phone) == (
        name,
        "'=already quoted",
        "+54 9 11 5555",
    )
    assert (products(fresh)["S1"].name, products(fresh)["S1"].description) == ("@SUM(1+1)", "-5")
    assert export_producers(fresh, locale="es_AR", bom=False).decode() == people
    assert export_products(fresh, locale="es_AR", bom=False).decode() == goods
    fresh.dispose()


def test_export_of_a_fair_lists_its_producers_with_stalls(engine, fair):
    data = export_producers(engine, fair="feria-test", locale="pt_BR", delimiter="\t", bom=False)
    lines = data.decode().splitlines()
    assert lines[0].split("\t")[0:3] == ["código", "nome", "tipo"]
    assert lines[0].endswith("banca")
    assert [line.split("\t")[0] for line in lines[1:]] == ["P01", "P02", "P07"]
    assert lines[3].endswith("\tsim\tB1")
    assert b"7800000000016" in export_products(engine, locale="en")


# -- the command -----------------------------------------------------------------------------


def test_command_lists_every_error_and_exits_1(engine, fair, database_url, tmp_path):
    path = tmp_path / "productos.csv"
    path.write_bytes(
        csv_bytes(
            "productor;sku;nombre;precio;codigo de barras\n"
            "P01;A;Miel;abc;\n"
            "P01;B;Polen;1.000;123\n",
            "cp1252",
        )
    )
    result = feria("--database", database_url, "import", "products", path)
    assert result.exit_code == 1
    assert "2 problems in the file, nothing was imported" in result.stderr
    assert "line 2, column precio: 'abc' has no digits" in result.stderr
    assert "line 3, column codigo de barras: '123' is not a valid" in result.stderr
    assert "A" not in products(engine)


def test_command_imports_and_reports_counts(engine, fair, database_url):
    path = DATA / "productores_es_cp1252.csv"
    result = feria(
        "--database", database_url, "import", "producers", path, "--fair", "feria-test", "--dry-run"
    )
    assert result.exit_code == 0, result.output
    assert "dry run: 3 producers checked, 3 would be created and 0 updated" in result.stdout
    assert "P10" not in producers(engine)

    result = feria("--database", database_url, "import", "producers", path, "--fair", "feria-test")
    assert result.exit_code == 0, result.output
    assert "imported 3 producers: 3 created, 0 updated (read as cp1252, separated by ';')" in (
        result.stdout
    )
    assert producers(engine)["P12"].kind == "cooperative"


def test_command_shows_a_progress_bar_on_large_files(engine, fair, database_url, tmp_path):
    rows = "".join(f"P01;S{i:04d};Miel {i};{1000 + i}\n" for i in range(1500))
    path = tmp_path / "big.csv"
    path.write_bytes(csv_bytes("productor;sku;nombre;precio\n" + rows))
    result = feria("--database", database_url, "import", "products", path)
    assert result.exit_code == 0, result.output
    assert "checking rows" in result.stderr and "writing rows" in result.stderr
    assert "1500 created" in result.stdout
    assert count(engine, Product) == 4 + 1500


def test_command_refuses_an_unknown_network(engine, fair, database_url):
    result = feria(
        "--database",
        database_url,
        "import",
        "producers",
        DATA / "productores_es_cp1252.csv",
        "--network",
        "nope",
    )
    assert result.exit_code == 1
    assert "no network 'nope' (networks here: red-test)" in result.stderr
