"""The demo fair: a Christmas fair of a solidarity-economy network in Santiago de Chile,
with its producers, products, users, tills and (optionally) a few sales already rung up.

:func:`load_demo` is what ``feria demo`` and the tests call. It is idempotent: the fair is
recognised by its slug, and a second call changes nothing and returns the same
:class:`DemoInfo`. The demo sales carry stable idempotency keys (``demo-sale-001``…), so
a loader interrupted half-way picks up where it stopped and no sale is ever recorded twice.

.. warning::

   The demo users all share :data:`DEMO_PASSWORD`, which is public: it is printed on the
   demo's home page and in this source file. It exists so anyone can try feria on a laptop
   in a minute. A real fair must never load the demo data nor use these accounts or this
   password; create real users with ``feria user add`` and strong passwords instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import pluggy
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from stdnum import ean

from feria.accounts import User, add_user
from feria.cashbox.errors import SessionClosed
from feria.cashbox.models import CashMovement, CashSession, Sale, Till
from feria.cashbox.sales import LineRequest, TenderRequest, payment_methods, record_sale
from feria.cashbox.sessions import add_till, open_session, record_movement
from feria.catalogue.models import Fair, Network, Participation, Producer, Product
from feria.catalogue.service import (
    add_producer,
    add_product,
    create_fair,
    create_network,
    join_fair,
)
from feria.db import read_session, write_session
from feria.errors import FeriaError
from feria.money import Money, line_total

__all__ = [
    "DEMO_FAIR_SLUG",
    "DEMO_NETWORK_SLUG",
    "DEMO_PASSWORD",
    "DemoError",
    "DemoInfo",
    "DemoLogin",
    "demo_info",
    "load_demo",
    "logins_text",
]

DEMO_PASSWORD = "feria-demo"
"""The password of every demo user. Public on purpose; never use it at a real fair."""

DEMO_NETWORK_SLUG = "red-ess-santiago"
DEMO_NETWORK_NAME = "Red de Economía Solidaria de Santiago"
DEMO_FAIR_SLUG = "feria-navidena-2026"
DEMO_FAIR_NAME = "Feria Navideña de la Economía Solidaria"
CURRENCY = "CLP"

# Cash is the only payment method every caja común has. When a card or social-currency
# plugin is installed, a demo sale can name it in ``DemoSale.pay``.
CASH = "cash"


class DemoError(FeriaError):
    code = "demo_error"
    status = 500


# -- what load_demo returns ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoLogin:
    """A demo user: how to log in and which page to open first."""

    username: str
    role: str
    password: str
    opens: str
    display_name: str
    producer_code: str | None = None


@dataclass(frozen=True, slots=True)
class DemoInfo:
    """What the demo created, to print on the home page or in the terminal."""

    network_slug: str
    network_name: str
    fair_id: int
    fair_slug: str
    fair_name: str
    currency: str
    place: str
    starts_on: dt.date
    ends_on: dt.date
    logins: tuple[DemoLogin, ...]
    tills: Mapping[str, int]
    session_id: int | None
    producers: int
    products: int
    sales: int


# -- the demo catalogue ------------------------------------------------------------------------

FAIR = {
    "place": "Plaza Yungay, Barrio Yungay, Santiago",
    "starts_on": dt.date(2026, 12, 18),
    "ends_on": dt.date(2026, 12, 23),
    "locale": "es_CL",
    "timezone": "America/Santiago",
    "solidarity_bp": 500,  # 5% for the network's solidarity fund
    # No fee in the rules: the demo takes cash, social currency and cards through Stripe, and
    # Stripe states its own fee on every charge (a stated fee wins over a rule's). A rule's
    # fee is for a method that states none, under that method's code.
    "fees": {},
    "receipt_footer": (
        "¡Gracias por comprar en la caja común!\n"
        "El 5% de su compra va al fondo solidario de la Red.\n"
        "Cada peso llega a quien lo produjo: verifique este comprobante con el código QR."
    ),
}

EAN_PREFIX = "780"  # GS1 Chile
EAN_COMPANY = "1225"  # a made-up company number for the demo's own labels


def scale_barcode(item_no: int) -> str:
    """The base code of a scale label (GS1 variable measure: 2, the item, the weight zeroed).

    The fair's scale prints ``2 IIIIII WWWWW C`` with the weight in grams; the till reads the
    weight out of the label, so a weighed item is rung up with one scan.
    """
    base = f"2{item_no:06d}00000"
    return base + ean.calc_check_digit(base)


def demo_barcode(producer_no: int, item_no: int) -> str:
    """A valid EAN-13 for a demo product: 780 (Chile), a company number, the item."""
    base = f"{EAN_PREFIX}{EAN_COMPANY}{producer_no:02d}{item_no:03d}"
    return base + ean.calc_check_digit(base)


@dataclass(frozen=True, slots=True)
class DemoProduct:
    sku: str
    name: str
    price: int  # CLP per unit (per piece, kilo, gram or litre)
    category: str
    unit: str = "piece"
    ean_item: int | None = None  # makes a barcode with demo_barcode(producer, item)
    scale_item: int | None = None  # a weighed product's scale-label code (scale_barcode)
    stock: int | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class DemoProducer:
    code: str
    name: str
    kind: str
    place: str
    stall: str
    story: str
    products: tuple[DemoProduct, ...]
    members: tuple[tuple[str, int], ...] = ()

    @property
    def number(self) -> int:
        return int(self.code[1:])


P = DemoProduct

PRODUCERS: tuple[DemoProducer, ...] = (
    DemoProducer(
        "P01",
        "Miel Los Quillayes",
        "individual",
        "Tiltil",
        "A1",
        "Rosa Huenchumilla cuida sus colmenas entre quillayes y espinos en la cuesta de "
        "Tiltil. Cosecha miel sin calentar y deja a las abejas lo que necesitan para el "
        "invierno.",
        (
            P(
                "MIEL-ULMO-KG",
                "Miel de ulmo a granel",
                9_900,
                "Miel",
                unit="kg",
                description="Traiga su frasco: se vende al peso.",
                scale_item=1,
            ),
            P("MIEL-500", "Miel multifloral 500 g", 5_500, "Miel", ean_item=1, stock=40),
            P("MIEL-CREM-250", "Miel cremosa 250 g", 3_500, "Miel", ean_item=2),
            P("PROPOLEO-30", "Tintura de propóleo 30 ml", 4_500, "Miel", ean_item=3),
            P("VELAS-CERA", "Velas de cera de abeja (par)", 3_000, "Miel"),
        ),
    ),
    DemoProducer(
        "P02",
        "Huerto Comunitario Villa Las Rosas",
        "association",
        "La Pintana",
        "A2",
        "La Junta de Vecinos Villa Las Rosas recuperó un sitio eriazo y lo convirtió en "
        "huerto. Treinta familias siembran por turnos; lo que se vende en la feria paga "
        "semillas, agua y la olla común del invierno.",
        (
            P(
                "TOMATE-G",
                "Tomate limachino",
                2,
                "Verduras",
                unit="g",
                description="Precio por gramo ($2.000 el kilo).",
            ),
            P(
                "PAPA-G",
                "Papa amarilla",
                1,
                "Verduras",
                unit="g",
                description="Precio por gramo ($1.000 el kilo).",
            ),
            P(
                "POROTO-G",
                "Porotos verdes",
                3,
                "Verduras",
                unit="g",
                description="Precio por gramo ($3.000 el kilo).",
            ),
            P("ZAPALLO-G", "Zapallo italiano", 2, "Verduras", unit="g"),
            P("LECHUGA", "Lechuga escarola", 800, "Verduras"),
            P("CILANTRO", "Cilantro (atado)", 500, "Verduras"),
        ),
    ),
    DemoProducer(
        "P03",
        "Amasandería Doña Eliana",
        "individual",
        "Pudahuel",
        "A3",
        "Eliana Catalán amasa desde las cinco de la mañana en el horno de barro que "
        "construyó con sus hijos. Su pan de pascua lleva la receta de su abuela.",
        (
            P("PAN-AMASADO", "Pan amasado", 300, "Pan"),
            P("HALLULLA-KG", "Hallulla", 2_600, "Pan", unit="kg"),
            P("PAN-PASCUA-1K", "Pan de pascua 1 kg", 7_000, "Pan", ean_item=1, stock=30),
            P("SOPAIPILLAS-6", "Sopaipillas pasadas (6 un.)", 2_000, "Pan"),
            P("QUEQUE-NUEZ", "Queque de nuez", 4_500, "Pan"),
        ),
    ),
    DemoProducer(
        "P04",
        "Conservas Mamá Tierra",
        "individual",
        "Peñalolén",
        "A4",
        "Marcela Soto transforma la fruta que sobra en las ferias libres del sector en "
        "mermeladas sin colorantes. Trabaja en una cocina comunitaria con resolución "
        "sanitaria.",
        (
            P("MERM-MORA", "Mermelada de mora 350 g", 3_500, "Conservas", ean_item=1),
            P("MERM-FRAMB", "Mermelada de frambuesa 350 g", 3_800, "Conservas", ean_item=2),
            P("CHUTNEY-CIR", "Chutney de ciruela", 4_200, "Conservas"),
            P("PEBRE", "Pebre en frasco", 3_000, "Conservas"),
            P("MERKEN-100", "Merkén ahumado 100 g", 3_500, "Conservas", ean_item=3),
        ),
    ),
    DemoProducer(
        "P05",
        "Greda Pomaire",
        "individual",
        "Pomaire, Melipilla",
        "A5",
        "Juan Carlos Olmos es alfarero de tercera generación en Pomaire. Trabaja la greda a "
        "mano y la cuece en horno de leña.",
        (
            P("TAZA-GREDA", "Taza de greda", 6_000, "Cerámica"),
            P("OLLA-GREDA", "Olla de greda mediana", 18_000, "Cerámica"),
            P("CHANCHITO", "Chanchito de la suerte", 3_500, "Cerámica"),
            P("FUENTE-PASTEL", "Fuente para pastel de choclo", 12_000, "Cerámica"),
            P("POCILLOS-4", "Set de 4 pocillos", 14_000, "Cerámica"),
        ),
    ),
    DemoProducer(
        "P06",
        "Tostaduría Grano Solidario",
        "individual",
        "Recoleta",
        "A6",
        "Ignacio Parra tuesta en pequeños lotes café de comercio justo comprado directamente "
        "a cooperativas campesinas del norte del Perú, y envasa yerba mate orgánica.",
        (
            P("CAFE-GRANO-250", "Café en grano 250 g", 6_500, "Café y yerba", ean_item=1),
            P("CAFE-MOLIDO-250", "Café molido 250 g", 6_500, "Café y yerba", ean_item=2),
            P("YERBA-500", "Yerba mate orgánica 500 g", 4_900, "Café y yerba", ean_item=3),
            P("MATE-CALABAZA", "Mate de calabaza con bombilla", 8_000, "Café y yerba"),
            P("INFUSION", "Infusión de hierbas (boldo, cedrón, menta)", 2_500, "Café y yerba"),
        ),
    ),
    DemoProducer(
        "P07",
        "Cooperativa de Trabajo Textil La Esperanza",
        "cooperative",
        "San Joaquín",
        "B1",
        "Cuando la fábrica de confecciones de San Joaquín cerró en 2019, cuatro trabajadoras "
        "recibieron las máquinas como pago de sus sueldos y formaron una cooperativa sin "
        "patrón. Reparten los ingresos según las horas que cada una trabaja.",
        (
            P("BUFANDA", "Bufanda de lana", 12_990, "Textiles", ean_item=1),
            P("GORRO", "Gorro tejido", 8_990, "Textiles", ean_item=2),
            P("DELANTAL", "Delantal de cocina", 7_500, "Textiles"),
            P("BOLSA-GENERO", "Bolsa de género reutilizable", 3_500, "Textiles", stock=50),
            P("PIJAMA-NINO", "Pijama de niño", 15_990, "Textiles"),
        ),
        members=(
            ("Gladys Morales", 3_000),
            ("Patricia Fuentes", 2_500),
            ("Ximena Rojas", 2_500),
            ("Juana Catrileo", 2_000),
        ),
    ),
    DemoProducer(
        "P08",
        "Jabones Lawen",
        "individual",
        "Cerro Navia",
        "B2",
        "Francisca Ñancupil hace jabones y cremas con caléndula y rosa mosqueta que cultiva "
        "y recolecta; lawen significa remedio en mapudungun.",
        (
            P("JABON-CALENDULA", "Jabón de caléndula", 3_000, "Cosmética natural", ean_item=1),
            P("JABON-ROSA", "Jabón de rosa mosqueta", 3_200, "Cosmética natural", ean_item=2),
            P("CREMA-ROSA-50", "Crema de rosa mosqueta 50 ml", 7_900, "Cosmética natural"),
            P("BALSAMO", "Bálsamo labial", 2_500, "Cosmética natural"),
            P("SHAMPOO-SOLIDO", "Shampoo sólido", 5_500, "Cosmética natural", stock=20),
        ),
    ),
    DemoProducer(
        "P09",
        "Juguetes Nogal",
        "individual",
        "Puente Alto",
        "B3",
        "Pedro Valdés, carpintero, hace juguetes con madera de nogal y raulí recuperada de "
        "muebles viejos. Sin pinturas tóxicas.",
        (
            P("TROMPO", "Trompo de madera", 3_500, "Juguetes de madera"),
            P("EMBOQUE", "Emboque", 2_500, "Juguetes de madera"),
            P("PUZZLE-CHILE", "Rompecabezas mapa de Chile", 8_900, "Juguetes de madera"),
            P("AUTITO", "Autito de madera", 6_500, "Juguetes de madera"),
            P("YOYO", "Yoyó", 2_500, "Juguetes de madera"),
        ),
    ),
    DemoProducer(
        "P10",
        "Fermentos del Barrio",
        "individual",
        "Ñuñoa",
        "B4",
        "Valentina Muñoz fermenta kombucha y chucrut en su cocina de barrio, y enseña a sus "
        "vecinos a hacerlo en talleres gratuitos.",
        (
            P(
                "KOMBUCHA-L",
                "Kombucha de jengibre a granel",
                3_500,
                "Fermentos",
                unit="l",
                description="Precio por litro; traiga su botella.",
            ),
            P("KOMBUCHA-500", "Kombucha de maqui 500 ml", 2_500, "Fermentos", ean_item=1),
            P("CHUCRUT-500", "Chucrut 500 g", 3_900, "Fermentos"),
            P("KEFIR-L", "Kéfir de agua a granel", 3_000, "Fermentos", unit="l"),
        ),
    ),
    DemoProducer(
        "P11",
        "Taller de Telar Rayen",
        "individual",
        "Lo Prado",
        "B5",
        "Ana Llancaqueo teje a telar mapuche con lana de oveja hilada y teñida con plantas. "
        "Cada pieza toma semanas.",
        (
            P("PIECERA-TELAR", "Piecera tejida a telar", 45_000, "Textiles"),
            P("CAMINO-MESA", "Camino de mesa", 18_000, "Textiles"),
            P("CHALECO-LANA", "Chaleco de lana", 32_000, "Textiles"),
            P("COJIN-TELAR", "Cojín tejido a telar", 15_000, "Textiles"),
            P("BOLSO-TELAR", "Bolso tejido a telar", 22_000, "Textiles"),
        ),
    ),
    DemoProducer(
        "P12",
        "Dulcería Tía Nena",
        "individual",
        "Maipú",
        "B6",
        "Elena Tapia, la tía Nena, vende en las ferias de la Red desde que se jubiló: "
        "alfajores, chilenitos y la cola de mono de cada Navidad.",
        (
            P("ALFAJORES-6", "Alfajores chilenos (caja de 6)", 4_500, "Dulces", ean_item=1),
            P("CHILENITOS-6", "Chilenitos (6 un.)", 3_600, "Dulces"),
            P("COLA-MONO-750", "Cola de mono 750 ml", 6_500, "Dulces", ean_item=2, stock=24),
            P("CALUGAS-200", "Calugas de leche 200 g", 2_500, "Dulces"),
            P("TURRON-MANI", "Turrón de maní", 2_000, "Dulces"),
        ),
    ),
)

TILLS = (
    (
        "T1",
        "Caja 1",
        {
            "driver": "escpos",
            "connection": "network",
            "host": "127.0.0.1",
            "port": 9100,
            "profile": "80mm",
        },
    ),
    ("T2", "Caja 2", {}),
)

# username, role, display name, page to open, producer code
USERS: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("organizadora", "organizer", "Carmen Gutiérrez (comisión organizadora)", "/backoffice", None),
    ("cajera", "cashier", "Daniela Reyes (cajera)", "/pos", None),
    ("productor", "producer", "Rosa Huenchumilla (Miel Los Quillayes)", "/producer", "P01"),
    ("cooperativa", "producer", "Cooperativa Textil La Esperanza", "/producer", "P07"),
    ("compradora", "shopper", "Sofía Ramírez (compradora)", "/shop", None),
)
CASHIER = "cajera"


# -- the demo sales -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoLine:
    """A demo sale line: a catalogue product (by id or by its barcode) or a free line."""

    producer: str
    sku: str | None = None
    quantity: str = "1"
    by_barcode: bool = False
    amount: int | None = None  # free line: CLP typed by the cashier
    description: str = ""


@dataclass(frozen=True, slots=True)
class DemoSale:
    """A sale and how it is paid: ``pay`` is ``(method, round_up_to)``, the cash handed over
    being the total rounded up to a multiple of ``round_up_to`` (0: the exact amount)."""

    key: str
    lines: tuple[DemoLine, ...]
    pay: tuple[tuple[str, int], ...] = ((CASH, 0),)


L = DemoLine

SALES: tuple[DemoSale, ...] = (
    DemoSale(
        "demo-sale-001",
        (L("P01", "MIEL-ULMO-KG", "1.235"), L("P02", "TOMATE-G", "750")),
        ((CASH, 10_000),),
    ),
    DemoSale(
        "demo-sale-002",
        (L("P07", "BUFANDA", by_barcode=True), L("P07", "GORRO", by_barcode=True)),
        ((CASH, 1_000),),
    ),
    DemoSale(
        "demo-sale-003",
        (
            L("P07", amount=2_500, description="Paño de cocina bordado"),
            L("P03", "PAN-PASCUA-1K", by_barcode=True),
            L("P03", "SOPAIPILLAS-6", "2"),
        ),
    ),
    DemoSale(
        "demo-sale-004",
        (
            L("P06", "CAFE-GRANO-250", "2", by_barcode=True),
            L("P06", "YERBA-500", by_barcode=True),
            L("P06", "MATE-CALABAZA"),
            L("P04", "MERM-MORA", by_barcode=True),
        ),
        ((CASH, 10_000),),
    ),
    DemoSale(
        "demo-sale-005",
        (
            L("P05", "TAZA-GREDA", "2"),
            L("P05", "CHANCHITO"),
            L("P08", "JABON-CALENDULA", "3", by_barcode=True),
            L("P09", "TROMPO"),
            L("P09", "EMBOQUE"),
        ),
        ((CASH, 5_000),),
    ),
    DemoSale(
        "demo-sale-006",
        (
            L("P02", "POROTO-G", "480"),
            L("P02", "PAPA-G", "2500"),
            L("P02", "CILANTRO"),
            L("P02", "LECHUGA", "2"),
            L("P03", "HALLULLA-KG", "0.850"),
        ),
        ((CASH, 1_000),),
    ),
    DemoSale(
        "demo-sale-007",
        (
            L("P10", "KOMBUCHA-L", "1.5"),
            L("P12", "COLA-MONO-750", "2", by_barcode=True),
            L("P12", "ALFAJORES-6", by_barcode=True),
            L("P12", amount=1_800, description="Cocadas sueltas"),
        ),
        ((CASH, 10_000),),
    ),
    DemoSale(
        "demo-sale-008",
        (L("P11", "PIECERA-TELAR"), L("P11", "CAMINO-MESA"), L("P01", "MIEL-500", "2")),
        ((CASH, 10_000),),
    ),
)

# The opening float, counted by denomination (CLP value → how many): $60.000.
OPENING_FLOAT = {
    "5000": 4,
    "2000": 5,
    "1000": 15,
    "500": 20,
    "100": 40,
    "50": 10,
    "10": 50,
}

# Recorded after the sale it names: (after sale key, kind, amount, reason).
MOVEMENTS: tuple[tuple[str, str, int, str], ...] = (
    (
        "demo-sale-005",
        "paid_out",
        4_000,
        "Compra de bolsas de papel y cinta adhesiva para la caja",
    ),
)


# -- loading -------------------------------------------------------------------------------------


def load_demo(engine: Engine, pm: pluggy.PluginManager, *, with_sales: bool = True) -> DemoInfo:
    """Create the demo fair (once) and, with ``with_sales``, a few sales in an open cash
    session at till T1; return what is there. Calling it again changes nothing."""
    try:
        _ensure_catalogue(engine)
    except IntegrityError:
        # Another process created it at the same moment: what it wrote is what we wanted.
        _ensure_catalogue(engine)
    if with_sales:
        _ensure_sales(engine, pm)
    return demo_info(engine)


def _ensure_catalogue(engine: Engine) -> None:
    with read_session(engine) as db:
        if db.scalar(select(Fair.id).where(Fair.slug == DEMO_FAIR_SLUG)) is not None:
            return
    with write_session(engine) as db:
        if db.scalar(select(Fair.id).where(Fair.slug == DEMO_FAIR_SLUG)) is not None:
            return  # created while we waited for the write lock
        network = db.scalar(select(Network).where(Network.slug == DEMO_NETWORK_SLUG))
        if network is None:
            network = create_network(db, DEMO_NETWORK_SLUG, DEMO_NETWORK_NAME)
        fair = create_fair(
            db,
            network,
            slug=DEMO_FAIR_SLUG,
            name=DEMO_FAIR_NAME,
            currency_code=CURRENCY,
            **FAIR,
        )
        producers = {p.code: _ensure_producer(db, network, fair, p) for p in PRODUCERS}
        for code, till_name, printer in TILLS:
            add_till(db, fair, code, till_name, printer=printer)
        for username, role, display_name, _opens, producer_code in USERS:
            _ensure_user(db, username, role, display_name, producers.get(producer_code or ""))


def _ensure_producer(db: Session, network: Network, fair: Fair, spec: DemoProducer) -> Producer:
    producer = db.scalar(
        select(Producer).where(Producer.network_id == network.id, Producer.code == spec.code)
    )
    if producer is None:
        producer = add_producer(
            db,
            network,
            code=spec.code,
            name=spec.name,
            kind=spec.kind,
            members=list(spec.members),
            story=spec.story,
            place=spec.place,
        )
    join_fair(db, fair, producer, spec.stall)
    have = set(db.scalars(select(Product.sku).where(Product.producer_id == producer.id)))
    for item in spec.products:
        if item.sku in have:
            continue
        add_product(
            db,
            producer,
            sku=item.sku,
            name=item.name,
            price=item.price,
            currency_code=CURRENCY,
            unit=item.unit,
            barcode=demo_barcode(spec.number, item.ean_item)
            if item.ean_item
            else scale_barcode(item.scale_item)
            if item.scale_item
            else None,
            stock=item.stock,
            description=item.description,
            category=item.category,
        )
    return producer


def _ensure_user(
    db: Session, username: str, role: str, display_name: str, producer: Producer | None
) -> None:
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        return
    user = add_user(
        db,
        username,
        DEMO_PASSWORD,
        role,
        producer_code=producer.code if producer else None,
        display_name=display_name,
    )
    if producer is not None and user.producer_id != producer.id:
        # add_user finds the producer by code alone; another network may use the same code.
        user.producer_id = producer.id
        db.flush()


def _ensure_sales(engine: Engine, pm: pluggy.PluginManager) -> None:
    """Ring up the demo sales that are not there yet, in the demo's cash session at T1.

    Nothing is added to a fair already in real use: if T1 has a session that is not the
    demo's, or the demo session was closed, the sales are left as they are.
    """
    keys = [s.key for s in SALES]
    with read_session(engine) as db:
        fair = db.scalar(select(Fair).where(Fair.slug == DEMO_FAIR_SLUG))
        till_id = db.scalar(select(Till.id).where(Till.fair_id == fair.id, Till.code == "T1"))
        cashier_id = db.scalar(select(User.id).where(User.username == CASHIER))
        done = dict(
            db.execute(
                select(Sale.idempotency_key, Sale.session_id).where(Sale.idempotency_key.in_(keys))
            ).all()
        )
        if len(done) == len(keys) and _movements_done(db, next(iter(done.values()))):
            return
        proceed, session_id = _demo_session(db, fair.id, till_id, cashier_id, done)
        if not proceed:
            return
        products = _products_by_ref(db, fair.network_id)
        methods = payment_methods(pm, fair)
    missing = sorted({m for s in SALES for m, _ in s.pay} - set(methods))
    if missing:
        raise DemoError(
            f"the demo sales are paid with {', '.join(missing)}, which no installed plugin "
            "offers; install feria-cash (plugins/cash) or load the demo without sales",
            field="plugins",
        )
    if session_id is None:
        try:
            session_id = open_session(
                engine, till_id=till_id, user_id=cashier_id, float_detail=OPENING_FLOAT
            ).id
        except SessionClosed:
            # Another loader opened it a moment ago: carry on in it if it is still untouched.
            with read_session(engine) as db:
                proceed, session_id = _demo_session(db, fair.id, till_id, cashier_id, {})
            if not proceed or session_id is None:
                return
    for sale in SALES:
        if sale.key not in done:
            lines = [_line_request(ln, products) for ln in sale.lines]
            total = sum(_line_total(ln, products) for ln in sale.lines)
            record_sale(
                engine,
                pm,
                key=sale.key,
                session_id=session_id,
                lines=lines,
                tenders=_tenders(sale, total),
            )
        for after, kind, amount, reason in MOVEMENTS:
            if after == sale.key:
                _ensure_movement(engine, session_id, cashier_id, kind, amount, reason)


def _demo_session(
    db: Session, fair_id: int, till_id: int, cashier_id: int, done: dict[str, int | None]
) -> tuple[bool, int | None]:
    """Whether to ring up the missing demo sales, and in which session (``None``: open
    one)."""
    if done:
        session_id = next(iter(done.values()))
        cs = db.get(CashSession, session_id)
        return cs is not None and cs.closed_at is None, session_id
    open_at_t1 = db.scalar(
        select(CashSession).where(CashSession.till_id == till_id, CashSession.closed_at.is_(None))
    )
    if open_at_t1 is not None:
        # A demo loader stopped after opening the session: resume it if nothing else happened.
        untouched = (
            open_at_t1.cashier_id == cashier_id
            and db.scalar(
                select(func.count()).select_from(Sale).where(Sale.session_id == open_at_t1.id)
            )
            == 0
        )
        return untouched, open_at_t1.id
    in_use = db.scalar(
        select(func.count()).select_from(CashSession).where(CashSession.fair_id == fair_id)
    )
    return in_use == 0, None


def _movements_done(db: Session, session_id: int | None) -> bool:
    return all(
        _movement_exists(db, session_id, kind, amount, reason)
        for _after, kind, amount, reason in MOVEMENTS
    )


def _movement_exists(
    db: Session, session_id: int | None, kind: str, amount: int, reason: str
) -> bool:
    return (
        db.scalar(
            select(CashMovement.id).where(
                CashMovement.session_id == session_id,
                CashMovement.kind == kind,
                CashMovement.amount == amount,
                CashMovement.reason == reason,
            )
        )
        is not None
    )


def _ensure_movement(
    engine: Engine, session_id: int, user_id: int, kind: str, amount: int, reason: str
) -> None:
    with read_session(engine) as db:
        if _movement_exists(db, session_id, kind, amount, reason):
            return
    record_movement(
        engine, session_id=session_id, kind=kind, amount=amount, reason=reason, user_id=user_id
    )


def _products_by_ref(db: Session, network_id: int) -> dict[tuple[str, str], Product]:
    rows = db.execute(
        select(Producer.code, Product)
        .join(Producer, Producer.id == Product.producer_id)
        .where(Producer.network_id == network_id)
    ).all()
    return {(code, product.sku): product for code, product in rows}


def _product(line: DemoLine, products: Mapping[tuple[str, str], Product]) -> Product:
    product = products.get((line.producer, line.sku or ""))
    if product is None:
        raise DemoError(f"the demo catalogue has no product {line.producer}/{line.sku}")
    return product


def _line_request(line: DemoLine, products: Mapping[tuple[str, str], Product]) -> LineRequest:
    if line.amount is not None:
        return LineRequest(
            producer_code=line.producer,
            amount=line.amount,
            quantity=line.quantity,
            description=line.description,
        )
    product = _product(line, products)
    if line.by_barcode and product.barcode:
        return LineRequest(barcode=product.barcode, quantity=line.quantity)
    return LineRequest(product_id=product.id, quantity=line.quantity)


def _line_total(line: DemoLine, products: Mapping[tuple[str, str], Product]) -> int:
    price = line.amount if line.amount is not None else _product(line, products).price
    return line_total(Decimal(line.quantity), Money(price, CURRENCY)).amount


def _tenders(sale: DemoSale, total: int) -> list[TenderRequest]:
    """The tenders of a demo sale: each pays what is left, cash rounded up for change."""
    tenders = []
    due = total
    for method, round_up_to in sale.pay:
        if due <= 0:
            break
        handed = due
        if round_up_to:
            handed = -(-due // round_up_to) * round_up_to
        tenders.append(TenderRequest(method=method, amount=handed))
        due -= handed
    return tenders


# -- what is there -------------------------------------------------------------------------------


def demo_info(engine: Engine) -> DemoInfo:
    """Describe the demo fair as it is in the database (it must have been loaded)."""
    with read_session(engine) as db:
        fair = db.scalar(select(Fair).where(Fair.slug == DEMO_FAIR_SLUG))
        if fair is None:
            raise DemoError("the demo fair is not loaded; run load_demo first", field="fair")
        network = db.get(Network, fair.network_id)
        tills = dict(
            db.execute(
                select(Till.code, Till.id).where(Till.fair_id == fair.id).order_by(Till.code)
            ).all()
        )
        session_id = db.scalar(
            select(CashSession.id)
            .where(CashSession.till_id == tills.get("T1"), CashSession.closed_at.is_(None))
            .order_by(CashSession.id.desc())
            .limit(1)
        )
        participants = select(Participation.producer_id).where(Participation.fair_id == fair.id)
        producers = db.scalar(
            select(func.count()).select_from(Participation).where(Participation.fair_id == fair.id)
        )
        products = db.scalar(
            select(func.count()).select_from(Product).where(Product.producer_id.in_(participants))
        )
        sales = db.scalar(
            select(func.count())
            .select_from(Sale)
            .where(Sale.fair_id == fair.id, Sale.kind == "sale")
        )
        existing = set(
            db.scalars(select(User.username).where(User.username.in_([u[0] for u in USERS])))
        )
        return DemoInfo(
            network_slug=network.slug,
            network_name=network.name,
            fair_id=fair.id,
            fair_slug=fair.slug,
            fair_name=fair.name,
            currency=fair.currency,
            place=fair.place,
            starts_on=fair.starts_on,
            ends_on=fair.ends_on,
            logins=tuple(
                DemoLogin(username, role, DEMO_PASSWORD, opens, display_name, producer_code)
                for username, role, display_name, opens, producer_code in USERS
                if username in existing
            ),
            tills=tills,
            session_id=session_id,
            producers=int(producers or 0),
            products=int(products or 0),
            sales=int(sales or 0),
        )


def logins_text(info: DemoInfo) -> Sequence[str]:
    """One line per demo login, e.g. for the terminal: ``cajera / feria-demo → /pos``."""
    return [
        f"{login.username} / {login.password} ({login.role}) → {login.opens}"
        for login in info.logins
    ]
