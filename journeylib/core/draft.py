"""``journeylib init``: profile an export and write a draft journey definition (``journey.yml``).

:func:`profile` reads the data once (DuckDB) and reports what a person writing a
definition needs to see: the columns and their types, the most frequent event names
with their counts, the time range, the id columns. :func:`draft_text` turns a profile
into a draft ``journey.yml`` in which every guess carries a YAML comment saying what
it was guessed from, and the event names it could not place are listed (commented)
at the end. :func:`write_draft` does both and never overwrites an existing file.

Guesses (column names and event names compared in lower case, split into words on
``_``, ``-``, ``.``, spaces and camelCase):

* columns: user/customer/client id (or ref/key/code) -> ``customer_id``; time/timestamp/
  date/placed/created -> ``ts`` (else a text column whose values are dates);
  event/action/event_name/event_type -> ``event``; channel/source/medium -> ``channel``;
  amount/revenue/total/price (numeric) -> ``revenue``;
* format: a known export shape from its columns (GA4, Segment, ...); a table with no
  event-name column but a customer id, a time and a numeric amount column is an
  ``orders`` table (each row one purchase): its columns are mapped under
  ``sources.events.columns`` and the rules are first purchase -> purchase, later -> repeat;
* stages: page/view/visit/main/landing -> awareness; view_item/product/catalog/search
  -> consideration; cart/add_to_cart/basket/checkout -> cart; purchase/order/
  order_completed/payment_done/checkout_complete -> purchase for a customer's first
  one and repeat for later ones; review/rating/referral/share -> advocacy;
* roles: the purchase event, cart additions, reviews, referrals and outbound messages
  (email/push/sms send, open, click).

The same words are known in German, French, Spanish, Italian, Dutch, Portuguese and the
Scandinavian languages ("Kunden-Nr.", "Fecha", "Montant"; "In den Warenkorb gelegt",
"Commande validée"), accents ignored, with German-style compounds ("Kundennummer",
"Bestelldatum", "Gesamtbetrag").

A draft is a starting point: ``journeylib check journey.yml`` says what it matches.
"""
from __future__ import annotations

import json
import os
import re
import unicodedata
import warnings
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import pandas as pd

from .engine import EXCEL_SUFFIXES
from .errors import JourneyDataError, JourneyParameterError
from .privacy import is_personal_detail, personal_values
from .schema import (COMMA_AMOUNT, DEFAULT_STAGES, EXPORT_FORMATS, LIST_SOURCES, MAX_SEGMENT_GROUPS,
                     ONE_VALUE_EXAMPLES, REQUIRED, ZONE_SUFFIX)

FORMATS = ("auto", "canonical", *EXPORT_FORMATS)
DATA_SUFFIXES = (".csv", ".parquet", ".pq", ".json", ".jsonl", ".ndjson", ".tsv", ".txt", ".gz", ".zip",
                 *EXCEL_SUFFIXES)
NOT_DATA = ("ground_truth.json", "journey.yml", "journey.yaml")
"""Files beside an export that are never its events (the simulator's truth, a definition)."""
TOP_EVENTS = 20
"""Event names shown by :meth:`Profile.describe` (the draft places up to :data:`MAX_NAMES`)."""
MAX_NAMES = 200

# --- guessing rules ------------------------------------------------------------------

COLUMN_GUESSES: dict[str, tuple[tuple[str, ...], ...]] = {
    # canonical name -> candidate names in order of preference (exact, lower case)
    "customer_id": (("customer_id", "user_id", "client_id", "customer", "user", "client", "kunde", "nutzer",
                     "benutzer", "utilisateur", "cliente", "usuario", "utente", "klant", "gebruiker", "utilizador",
                     "kund", "userid", "customerid",
                     "clientid", "customer_unique_id", "visitor_id", "member_id", "account_id", "user_pseudo_id",
                     "anonymous_id", "distinct_id", "person_id", "device_id", "domain_userid", "session_user_id",
                     "customer_email", "email", "email_address", "recipient", "recipient_email", "subscriber",
                     "subscriber_id", "profile_id", "id"),),
    "ts": (("ts", "timestamp", "event_timestamp", "event_time", "time", "datetime", "date", "event_date",
            "created_at", "occurred_at", "order_date", "order_time", "derived_tstamp", "sent_at"),),
    "event": (("event", "event_name", "event_type", "action", "event_action", "se_action", "activity", "type"),),
    "channel": (("channel", "source", "medium", "utm_source", "utm_medium", "traffic_source", "mkt_medium",
                 "mkt_source", "marketing_channel"),),
    "revenue": (("revenue", "amount", "total", "price", "order_total", "order_value", "value", "purchase_revenue",
                 "tr_total", "sales", "gmv"),),
}
# Words of column and event names in English and in the languages of European shops' exports
# (German, French, Spanish, Italian, Dutch, Portuguese, Scandinavian), accents removed as words() does.
COLUMN_WORDS = {  # fallback: a column whose words include one of these
    "customer_id": ({"user", "customer", "client", "buyer", "shopper", "member", "account", "distinct", "person",
                     "contact", "visitor",
                     "kunde", "kunden", "nutzer", "benutzer", "kaufer", "mitglied", "konto", "utilisateur", "acheteur",
                     "membre", "compte", "cliente", "usuario", "comprador", "miembro", "socio", "cuenta", "utente",
                     "acquirente", "klant", "gebruiker", "koper", "lid", "utilizador", "kund", "kunder", "bruger"},
                    {"id", "ref", "reference", "key", "code", "number", "no", "email", "uuid", "nummer", "nr",
                     "kennung", "referenz", "numero", "num", "identifiant", "codigo", "codice", "referencia",
                     "riferimento", "identificador", "mail"}),
    "ts": ({"time", "timestamp", "date", "datetime", "ts", "tstamp", "placed", "ordered", "created", "purchased",
            "when", "datum", "zeit", "zeitpunkt", "zeitstempel", "uhrzeit", "heure", "horodatage", "fecha", "hora",
            "orario", "tijd", "tijdstip", "tidspunkt", "dato"}, set()),
    "event": ({"event", "action", "ereignis", "aktion", "evenement", "evento", "accion", "azione", "gebeurtenis",
               "actie", "handelse", "acao"}, set()),
    "channel": ({"channel", "source", "medium", "kanal", "quelle", "canal", "fuente", "canale", "sorgente", "kanaal",
                 "bron", "origem"}, set()),
    "revenue": ({"amount", "revenue", "total", "price", "betrag", "umsatz", "wert", "preis", "summe", "montant",
                 "prix", "importe", "monto", "precio", "importo", "prezzo", "totale", "bedrag", "prijs", "omzet",
                 "valor", "preco", "belopp", "pris", "summa", "belob"}, set()),
}
COMPOUND_WORDS = {
    # canonical name -> (heads, tails): one word that starts with a head and ends with a tail, as
    # German, Dutch and Scandinavian names join words ("Kundennummer", "Bestelldatum", "Gesamtbetrag");
    # an empty set matches anything
    "customer_id": ({"kunde", "kunden", "klant", "kund", "customer", "client", "user", "mitglied", "member"},
                    {"id", "nummer", "nr", "ref", "number", "no"}),
    "ts": (set(), {"datum", "zeit", "zeitpunkt", "zeitstempel", "tijd", "tijdstip", "tidspunkt", "dato"}),
    "event": ({"ereignis", "gebeurtenis", "aktion"}, set()),
    "channel": (set(), {"kanal", "kanaal"}),
    "revenue": (set(), {"betrag", "wert", "umsatz", "preis", "summe", "bedrag", "waarde", "prijs", "omzet", "belopp",
                        "summa", "belob"}),
}
WHY_COLUMN = {"customer_id": "a user/customer/client id", "ts": "a time/timestamp/date/placed column",
              "event": "an event/action name column", "channel": "a channel/source/medium column",
              "revenue": "an amount/revenue/total/price column"}

NEGATIVE = {"remove", "removed", "refund", "refunded", "cancel", "cancelled", "canceled", "fail", "failed", "error",
            "abandon", "abandoned", "delete", "deleted", "return", "returned",
            "storno", "storniert", "stornierung", "ruckgabe", "retoure", "erstattung", "erstattet", "entfernt",
            "entfernen", "geloscht", "fehlgeschlagen", "fehler", "abgebrochen", "abbruch", "annulation", "annule",
            "annulee", "rembourse", "remboursement", "retour", "supprime", "echec", "erreur", "abandonne",
            "cancelado", "cancelacion", "devolucion", "reembolso", "eliminado", "fallido", "abandonado", "annullato",
            "rimborso", "reso", "rimosso", "fallito", "errore", "abbandonato", "geannuleerd", "terugbetaling",
            "verwijderd", "mislukt", "fout", "afgebroken", "devolvido", "removido", "falhou"}
MESSAGE_WORDS = {"email", "mail", "push", "sms", "message", "newsletter", "notification", "inapp", "whatsapp",
                 "nachricht", "mailing", "benachrichtigung", "courriel", "correo", "mensaje", "messaggio", "bericht",
                 "mensagem", "meddelelse", "meddelande"}
MESSAGE_ACTIONS = {  # role -> words of a message event's action
    "message_click": {"click", "clicked", "clicks", "klick", "geklickt", "angeklickt", "clic", "clique",
                      "cliquee", "clicado", "cliccato", "geklikt", "klik"},
    "message_open": {"open", "opened", "opens", "read", "geoffnet", "offnen", "gelesen", "ouvert", "ouverte", "lu",
                     "abierto", "leido", "aperto", "letto", "geopend", "gelezen", "aberto", "lido"},
    "message_sent": {"send", "sent", "delivered", "delivery", "dispatch", "received", "receive", "gesendet",
                     "versendet", "versand", "zugestellt", "erhalten", "empfangen", "envoye", "envoyee", "envoi",
                     "recu", "recue", "enviado", "envio", "recibido", "inviato", "invio", "ricevuto", "verzonden",
                     "verstuurd", "afgeleverd", "ontvangen", "entregue", "recebido", "sendt", "skickat", "modtaget",
                     "mottaget", "mottatt"},
}
PURCHASE_NAMES = ("purchase", "order_completed", "order_complete", "checkout_complete", "checkout_completed",
                  "payment_done", "payment_success", "payment_completed", "transaction", "order", "purchased",
                  "completed_order", "order_placed")
PURCHASE_WORDS = {"purchase", "purchased", "order", "orders", "transaction",
                  "kauf", "gekauft", "bestellung", "bestellt", "kaufabschluss", "bestellabschluss", "achat",
                  "commande", "compra", "pedido", "acquisto", "ordine", "aankoop", "bestelling", "encomenda", "kob",
                  "kop", "bestallning", "ordre"}
CART_WORDS = {"cart", "basket", "bag", "warenkorb", "panier", "carrito", "carrello", "winkelwagen", "winkelmand",
              "cesta", "carrinho", "handlekurv", "varukorg", "indkobskurv"}
ADD_WORDS = {"add", "added", "adds", "hinzufugen", "hinzugefugt", "gelegt", "ajout", "ajoute", "ajouter", "anadir",
             "anadido", "agregar", "agregado", "aggiungi", "aggiunto", "aggiunta", "toevoegen", "toegevoegd",
             "adicionar", "adicionado", "tilfoj", "lagt"}
STAGE_WORDS: tuple[tuple[str, set[str], str], ...] = (
    # (stage, words any of which places a name, what the comment says), first match wins
    ("cart", CART_WORDS | {"checkout", "kasse", "caisse", "kassa"}, "cart/basket/checkout"),
    ("consideration", {"product", "products", "catalog", "catalogue", "search", "item", "items", "category",
                       "detail", "details", "pdp", "plp", "compare", "wishlist", "offer", "price", "pricing",
                       "produkt", "produkte", "artikel", "katalog", "suche", "kategorie", "wunschliste", "merkliste",
                       "angebot", "produit", "produits", "recherche", "categorie", "producto", "productos",
                       "busqueda", "catalogo", "categoria", "prodotto", "prodotti", "ricerca", "zoeken",
                       "zoekopdracht", "produto", "produtos", "pesquisa", "sog", "sok"},
     "view_item/product/catalog/search"),
    ("advocacy", {"review", "reviews", "rating", "rate", "rated", "referral", "refer", "referred", "share",
                  "shared", "recommend", "nps", "bewertung", "rezension", "empfehlung", "weiterempfehlung", "teilen",
                  "geteilt", "avis", "evaluation", "parrainage", "recommandation", "partage", "resena", "valoracion",
                  "recomendacion", "referido", "compartir", "recensione", "valutazione", "raccomandazione",
                  "condividi", "beoordeling", "recensie", "aanbeveling", "delen", "avaliacao", "indicacao",
                  "partilhar", "anmeldelse", "recension"}, "review/rating/referral/share"),
    ("awareness", {"page", "pageview", "view", "visit", "main", "landing", "home", "homepage", "screen",
                   "session", "open", "start", "impression", "ad", "first", "seite", "seitenaufruf", "startseite",
                   "besuch", "aufruf", "sitzung", "accueil", "visite", "pagina", "inicio", "visita", "sesion",
                   "sessione", "bezoek", "startpagina", "sessie", "sida", "besok"},
     "page/view/visit/main/landing"),
)
ROLE_WORDS = {"review": {"review", "reviews", "rating", "rated", "bewertung", "rezension", "avis", "evaluation",
                         "resena", "valoracion", "recensione", "valutazione", "beoordeling", "recensie", "avaliacao",
                         "anmeldelse", "recension"},
              "referral": {"referral", "refer", "referred", "share", "shared", "empfehlung", "weiterempfehlung",
                           "teilen", "geteilt", "parrainage", "recommandation", "partage", "referido",
                           "recomendacion", "compartir", "raccomandazione", "condividi", "aanbeveling", "delen",
                           "indicacao", "partilhar"}}


def words(name: str) -> set[str]:
    """The words of a column or event name: split on ``_ - . /`` spaces and camelCase, lower case,
    accents removed (``Käufer`` -> ``kaufer``).

    Parameters
    ----------
    name
        A column or event name.

    Returns
    -------
    set of str
        Its lower-case words.

    Examples
    --------
    >>> from journeylib.core.draft import words
    >>> sorted(words("addToCart_v2"))
    ['add', 'cart', 'to', 'v2']
    >>> sorted(words("Événement créé"))
    ['cree', 'evenement']
    """
    return set(_split(name))


def _split(name: str) -> list[str]:
    plain = "".join(c for c in unicodedata.normalize("NFKD", str(name)) if not unicodedata.combining(c))
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", plain.replace("ß", "ss"))
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


def _norm(name: str) -> str:
    return "_".join(_split(name))


def _named(column: str, canon: str) -> bool:
    """``column``'s words name ``canon`` (:data:`COLUMN_WORDS`, :data:`COMPOUND_WORDS`)."""
    w = words(column)
    any_of, need = COLUMN_WORDS[canon]
    if w & any_of and (not need or w & need):
        return True
    heads, tails = COMPOUND_WORDS[canon]
    return any((not heads or x.startswith(tuple(heads))) and (not tails or x.endswith(tuple(tails)))
               and len(x) > 4 for x in w)


def guess_stage(event: str) -> tuple[str | None, str]:
    """``(stage, reason)`` for one event name; ``(None, reason)`` when it cannot be placed.

    Parameters
    ----------
    event
        An event name as it appears in the export.

    Returns
    -------
    tuple of (str or None, str)
        The guessed stage (``None``: not placed) and what the guess rests on.

    Examples
    --------
    >>> from journeylib.core.draft import guess_stage
    >>> guess_stage("add_to_cart")
    ('cart', 'cart/basket/checkout')
    >>> guess_stage("email_click")
    (None, 'a message event (a role, not a stage)')
    """
    w, n = words(event), _norm(event)
    if w & NEGATIVE:
        return None, "names an undo/failure"
    if w & MESSAGE_WORDS:
        return None, "a message event (a role, not a stage)"
    if n in PURCHASE_NAMES or w & PURCHASE_WORDS \
            or n.startswith(("payment_done", "checkout_complete", "order_complete")):
        return "purchase", "purchase/order/payment_done/checkout_complete"
    if n in ("view_item", "view_item_list", "select_item", "product_view"):
        return "consideration", "view_item/product/catalog/search"
    for stage, keys, why in STAGE_WORDS:
        if w & keys:
            return stage, why
    return None, "no known word"


def guess_roles(names: list[str]) -> dict[str, list[str]]:
    """Event names per role (``purchase``, ``cart``, ``review``, ``referral``, ``message_*``).

    Parameters
    ----------
    names
        Event names as they appear in the export.

    Returns
    -------
    dict of str to list of str
        Role -> the names guessed to play it (names with no role, or naming an undo or a
        failure, are left out).

    Examples
    --------
    >>> from journeylib.core.draft import guess_roles
    >>> guess_roles(["page_view", "add_to_cart", "purchase", "email_click", "refund_issued"])
    {'cart': ['add_to_cart'], 'purchase': ['purchase'], 'message_click': ['email_click']}
    """
    roles: dict[str, list[str]] = {}
    for name in names:
        w, n = words(name), _norm(name)
        if w & NEGATIVE:
            continue
        if w & MESSAGE_WORDS:
            role = next((r for r, acts in MESSAGE_ACTIONS.items() if w & acts), None)
        elif guess_stage(name)[0] == "purchase":
            role = "purchase"
        elif n in ("add_to_cart", "addtocart", "cart_add", "add_cart", "basket_add", "add_to_basket") or \
                (w & CART_WORDS and w & ADD_WORDS) or n in ("cart", "basket"):
            role = "cart"
        elif w & ROLE_WORDS["review"]:
            role = "review"
        elif w & ROLE_WORDS["referral"]:
            role = "referral"
        else:
            continue
        roles.setdefault(role, []).append(name)
    return roles


def _pick_purchase(names: list[str]) -> tuple[list[str], list[str]]:
    """The purchase event: the best-known name (purchase, order_completed, ...) with its spellings that differ
    only in case or spaces (``Purchase``, ``purchase ``: one event an export wrote several ways), then the rest."""
    def rank(n):
        k = _norm(n)
        return (PURCHASE_NAMES.index(k) if k in PURCHASE_NAMES else len(PURCHASE_NAMES), names.index(n))
    ordered = sorted(names, key=rank)
    same = [n for n in ordered if n.strip().casefold() == ordered[0].strip().casefold()]
    return same, [n for n in ordered if n not in same]


# --- profiling -----------------------------------------------------------------------

@dataclass(frozen=True)
class Profile:
    """What :func:`profile` found in an export (the basis of a draft).

    Examples
    --------
    >>> from journeylib.core.draft import profile
    >>> prof = profile("data/sample")
    >>> prof.format, prof.rows, prof.customers
    ('canonical', 52966, 5000)
    >>> prof.events.head(2)
              event  events  customers
    0  product_view   24700       3186
    1      purchase    9697       1292
    """

    source: str
    """The path given."""
    format: str
    """The export's shape (detected when ``auto`` was asked)."""
    files: dict[str, str]
    """Table (``events``, ``customers``, ``assignments``, ``messages``, ``feedback``, ``costs``) -> path read."""
    rows: int
    columns: tuple[tuple[str, str], ...]
    """``(name, type)`` of the events as read (before any mapping)."""
    mapping: dict[str, tuple[str, str]]
    """Canonical name -> ``(their column, why)`` for the guessed columns."""
    alternatives: dict[str, tuple[str, ...]]
    """Canonical name -> other columns that could also be it."""
    events: pd.DataFrame
    """Event names by frequency: ``event``, ``events``, ``customers`` (every name, most frequent first)."""
    time_range: tuple[Any, Any]
    id_columns: dict[str, int]
    """Id-like columns -> distinct values."""
    customers: int | None
    timestamp_format: str | None = None
    timestamp_note: str | None = None
    naive_time: bool = False
    customer_columns: tuple[tuple[str, str, int], ...] = ()
    """``(name, type, distinct)`` of the customers table, when there is one."""
    customer_id_column: str | None = None
    campaign_column: str | None = None
    stage_column: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    source_mapping: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Orders: canonical name -> ``(their column, why)`` passed to the reader as ``columns``."""
    decimal: str = "."
    """The revenue column's decimal mark (``","`` for amounts such as ``13,26``)."""
    decimal_note: str | None = None
    currency_column: str | None = None
    """A column naming the currency of each amount: the loader checks that revenue is in one."""
    encodings: dict[str, str] = field(default_factory=dict)
    """Table -> the encoding of its text file when it is not UTF-8 (``cp1252``, as Excel writes a
    plain CSV in Western Europe); the profile read a UTF-8 copy."""
    side_columns: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, str]]]] = field(default_factory=dict)
    """``assignments``, ``messages``, ``feedback``, ``costs`` (``costs[1]``...: a further export of the table, as
    in :attr:`files`) -> (their columns, :func:`side_columns` guesses)."""
    zone_abbreviations: tuple[str, ...] = ()
    """Zone abbreviations the text times end in (``PST``, ``PDT``): the draft names the zone to read them in."""
    contact_columns: tuple[str, ...] = ()
    """Customers columns whose values are email addresses or phone numbers, whatever their names: never a segment."""

    def describe(self) -> str:
        """The profile as a few plain lines (what ``journeylib init`` prints)."""
        lines = [f"{self.source}: {self.format} export, {self.rows:,} events"
                 + (f" of {self.customers:,} customers" if self.customers is not None else "")]
        for table, path in self.files.items():
            lines.append(f"  {table}: {path}")
        lines.append("columns: " + ", ".join(f"{n} ({t})" for n, t in self.columns))
        if self.source_mapping:
            lines.append("orders columns guessed: " + ", ".join(
                f"{their} -> {canon}" for canon, (their, _) in self.source_mapping.items()))
        elif self.mapping:
            lines.append("mapping guessed: " + ", ".join(f"{their} -> {canon}" if their != canon else canon
                                                         for canon, (their, _) in self.mapping.items()))
        lo, hi = self.time_range
        if lo is not None:
            lines.append(f"time range: {lo} to {hi}")
        if self.id_columns:
            lines.append("id columns: " + ", ".join(f"{c} ({n:,} distinct)" for c, n in self.id_columns.items()))
        if len(self.events):
            top = self.events.head(TOP_EVENTS)
            lines.append(f"top event names ({len(self.events):,} distinct):")
            width = max(len(str(e)) for e in top["event"])
            lines += [f"  {str(r.event):<{width}}  {int(r.events):>10,}" for r in top.itertuples()]
        lines += list(self.notes)
        return "\n".join(lines)


def find_files(path: str | Path) -> dict[str, str]:
    """The tables of a folder (``events.*``, ``customers.*``, ``assignments.*``, ``messages.*``,
    ``feedback.*`` or ``reviews.*``, ``costs.*`` or ``spend.*``), or the file itself.

    Parameters
    ----------
    path
        An export file, a glob, a URI or a folder.

    Returns
    -------
    dict of str to str
        Table -> path (or glob) to read; always has ``events`` (an ``orders.*`` file is the
        events when there is no ``events.*``). A table several exports hold (``reviews.csv`` and
        ``nps.csv``; ``spend_google.csv`` and ``spend_meta.csv``: a side table's name, then ``_`` or
        ``-``) has its first under its name, the others under ``feedback[1]``, ``feedback[2]``...

    Examples
    --------
    >>> from journeylib.core.draft import find_files
    >>> find_files("data/sample")["events"]
    'data/sample/events.parquet'
    >>> sorted(find_files("data/sample"))
    ['assignments', 'costs', 'customers', 'events', 'feedback', 'messages']
    """
    text = str(path)
    if "://" in text or any(ch in text for ch in "*?["):
        return {"events": text}
    p = Path(text)
    if p.suffix.lower() == ".zip" and p.is_file():  # an archive is a folder: its tables, named through it
        from . import engine

        inside = Path(engine.unzipped_path(text))
        return {t: str(p / Path(f).relative_to(inside)) for t, f in find_files(inside).items()}
    if p.is_file():
        return {"events": text}
    if not p.is_dir():
        raise JourneyDataError(f"init: {text}: no such file or folder; expected an export file, a glob or a folder")
    found: dict[str, str] = {}
    stem = lambda f: f.name.split(".")[0].lower()  # noqa: E731
    for table in ("events", "customers", "assignments", "messages", "orders", "feedback", "costs"):
        names = SIDE_FILES.get(table, (table,))
        of = lambda f: next((i for i, n in enumerate(names) if stem(f) == n or table in LIST_SOURCES  # noqa: E731
                             and re.match(rf"{re.escape(n)}[_-]", stem(f))), None)
        hits = sorted((f for f in p.iterdir() if of(f) is not None and f.name.lower().endswith(DATA_SUFFIXES)),
                      key=lambda f: (of(f), f.name))
        parts = p / table
        if hits:
            found[table] = str(hits[0])
            found.update({f"{table}[{i}]": str(f) for i, f in enumerate(hits[1:], 1)})  # several exports of it
        elif parts.is_dir() and any(parts.rglob("*.parquet")):
            found[table] = str(parts / "**" / "*.parquet")
    if "events" not in found and "orders" in found:
        found["events"] = found.pop("orders")
    if "events" not in found:
        usable = lambda f: (f.name.lower().endswith(DATA_SUFFIXES) and f.name.lower() not in NOT_DATA  # noqa: E731
                            and not f.name.startswith((".", "_", "~$")))
        inner = [d for d in p.iterdir() if d.is_dir() and not d.name.startswith((".", "_")) and d.name != "__MACOSX"]
        if not found and len(inner) == 1 and not any(f.is_file() and usable(f) for f in p.iterdir()):
            return find_files(inner[0])  # a folder zipped (or unpacked) with its own folder inside
        known = {Path(f).resolve() for f in found.values()}
        data = sorted(f for f in p.rglob("*") if f.is_file() and usable(f) and f.resolve() not in known
                      and "__MACOSX" not in f.parts)
        if not data:
            raise JourneyDataError(f"init: {text} holds no data file; expected events.csv, events.parquet, "
                                   "an export file or a folder of them")
        if len(data) == 1 and data[0].suffix.lower() == ".zip":
            return {**find_files(data[0]), **found}
        parts = [f for f in data if f.suffix.lower() == data[0].suffix.lower()]
        _one_table(text, parts)
        deep = "" if all(f.parent == p for f in parts) else "**"
        found["events"] = str(data[0]) if len(data) == 1 else str(p / deep / f"*{data[0].suffix}")
    return found


def _one_table(folder: str, files: list[Path]) -> None:
    """Stop when the files init would read as the event log are several tables (columns that barely
    overlap: events.csv and customers.csv under other names), instead of stacking them."""
    import csv

    from . import engine

    def columns(f: Path) -> set[str] | None:
        kind = engine.file_kind(f.name)
        try:
            if kind == "parquet":
                import pyarrow.parquet as pq

                return set(pq.read_schema(f).names)
            if kind == "csv":
                with engine.open_text(f) as fh:
                    return set(next(csv.reader(fh), []))
        except (OSError, ValueError, UnicodeDecodeError, csv.Error):
            return None
        return None

    seen = [(f, c) for f in files[:50] if (c := columns(f))]
    for f, c in seen[1:]:
        first, c0 = seen[0]  # every file against the first: a later month's extra column still overlaps
        if len(c & c0) < 0.5 * len(c | c0):
            raise JourneyDataError(
                f"init: {Path(folder).resolve().name} holds several tables and none named events.* ({first.name} and "
                f"{f.name} share few columns); expected the event log as events.csv (orders.csv for an orders "
                "export) or one table's files.\nWhat to do: rename the event log's file to events.csv, or run "
                "init on that file")


def _read(path: str):
    """An ibis table over the file(s); JSON lines through DuckDB's reader."""
    from . import engine

    con = engine.default_connection()
    try:
        if path.lower().endswith((".json", ".jsonl", ".ndjson")):
            return con.read_json(path)
        if path.lower().endswith((".csv", ".csv.gz", ".tsv")):
            # A draft guesses roles from the types DuckDB sniffs (an "amount" column is numeric);
            # the loaders then type every column by its declared role, never by sniffing.
            return con.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - DuckDB's reader errors: the gist and what to do
        raise engine.read_failure("init", path, exc) from exc
    if path.lower().endswith(engine.EXCEL_SUFFIXES):  # numbers as numbers, as DuckDB sniffs a CSV's
        frame = engine.excel_frame([path])
        return ibis.memtable(frame.apply(lambda c: pd.to_numeric(c) if _all_numbers(c) else c))
    return engine.to_table(path, raw=True)


def _all_numbers(text: pd.Series) -> bool:
    values = text.dropna()
    return bool(len(values)) and pd.to_numeric(values, errors="coerce").notna().all()


def _detect(path: str, format: str) -> str:
    if format not in FORMATS:
        raise JourneyParameterError(f"format={format!r}; expected one of {list(FORMATS)}")
    if format != "auto":
        return format
    from . import readers

    try:
        fmt = readers.detect_format(path)
    except JourneyDataError:  # no known export shape: an orders table by its columns, else a plain table
        return "orders" if guess_orders_columns(path) is not None else "canonical"
    if fmt == "orders":  # a table with an event-name column is a clickstream, not an orders table
        cols = [c for c, _ in _read(path).schema().items()]
        if "event" in _guess_columns(cols, {})[0]:
            return "canonical"
    return fmt


def _guess_columns(cols: list[str], types: dict[str, str],
                   amounts: Collection[str] = ()) -> tuple[dict[str, tuple[str, str]], dict]:
    """Canonical name -> ``(column, why)`` by the columns' names; ``amounts`` are text columns
    holding numbers with a decimal comma, which may be the revenue like a numeric column."""
    lower: dict[str, str] = {}
    for c in cols:  # "Customer ID" is customer_id exactly: ahead of a bare "id" (a charge's or an order's own)
        lower.setdefault(c.lower(), c)
        lower.setdefault(re.sub(r"[^0-9a-z$]+", "_", c.lower()).strip("_"), c)
    taken: set[str] = set()
    mapping, alternatives = {}, {}
    for canon in ("customer_id", "ts", "event", "channel", "revenue"):
        exact = [lower[n] for n in COLUMN_GUESSES[canon][0] if n in lower and lower[n] not in taken]
        loose = [c for c in cols if c not in taken and c not in exact and (_named(c, canon)
                 or canon == "revenue" and _order_value(c))]
        if canon == "ts":  # a real timestamp column beats a text one
            exact.sort(key=lambda c: "timestamp" not in types.get(c, "") and "date" not in types.get(c, ""))
            loose.sort(key=lambda c: "timestamp" not in types.get(c, "") and "date" not in types.get(c, ""))
        if canon == "revenue":
            exact = [c for c in exact if _numeric(types.get(c, "")) or c in amounts]
            loose = [c for c in loose if _numeric(types.get(c, "")) or c in amounts]
        candidates = exact + loose
        if candidates:
            mapping[canon] = (candidates[0], WHY_COLUMN[canon])
            taken.add(candidates[0])
            if candidates[1:]:
                alternatives[canon] = tuple(candidates[1:])
    return mapping, alternatives


TIME_OF_DAY_WORDS = {"time", "hour", "uhrzeit", "zeit", "heure", "hora", "ora", "orario", "tijd", "tid", "klokkeslett",
                     "klockslag"}
"""Names of a time-of-day column beside a date column (``Date`` and ``Time``, ``Datum`` and ``Uhrzeit``)."""
_CLOCK = r"^\s*\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?(\s*[AaPp]\.?[Mm]\.?)?\s*$"


def _time_of_day(t, mapping: dict[str, tuple[str, str]], alternatives: dict, types: dict[str, str]) -> str | None:
    """Map ``ts_time`` when the moment is split into a date column and a time-of-day column (``Date`` and
    ``Time``, ``Datum`` and ``Uhrzeit``; a spreadsheet's date cells read as midnight): the date is ``ts``
    (also when the names had put the time column there) and the time ``ts_time``; in place. Returns a
    note when the ``ts`` guess holds times of day and no column holds their dates (``ts`` is then unmapped)."""
    from . import engine

    if "ts" not in mapping:
        return None

    fetched: dict[str, pd.Series] = {}

    def values(c: str) -> pd.Series:  # a column is asked about as a clock and as a date: fetched once
        if c not in fetched:
            v = engine.to_pandas(t.select(t[c].cast("string").name("v")).limit(2000))["v"].dropna().astype(str)
            fetched[c] = v[v.str.strip() != ""]
        return fetched[c]

    def clock_only(c: str) -> bool:
        if types[c] == "time":
            return True
        v = values(c) if "string" in types[c] else pd.Series([], dtype=object)
        return len(v) > 0 and bool(v.str.match(_CLOCK).all())

    def date_only(c: str) -> bool:
        if types[c] == "date":
            return True
        if "timestamp" not in types[c] and "string" not in types[c]:
            return False
        v = values(c)
        if not len(v) or v.str.match(_CLOCK).any():
            return False
        if v.str.contains(ZONE_SUFFIX).any():  # a time that carries its zone is no date alone
            return False
        with warnings.catch_warnings():  # day-first text is only checked for a time of day here
            warnings.simplefilter("ignore")
            p = pd.to_datetime(v, errors="coerce", format="mixed")
        return bool(pd.api.types.is_datetime64_any_dtype(p) and p.notna().all() and (p == p.dt.normalize()).all())

    ts = mapping["ts"][0]
    others = [c for c in alternatives.get("ts", ()) if c in types]
    if clock_only(ts):
        date = next((c for c in others if date_only(c)), None)
        if date is None:
            del mapping["ts"]
            return (f"'{ts}' holds times of day without their dates: map the date column as ts and "
                    f"'{ts}' as ts_time")
        time = ts
    elif date_only(ts):
        taken = {their for their, _ in mapping.values()}
        date = ts
        time = next((c for c in types if c not in taken and (types[c] == "time" or words(c) & TIME_OF_DAY_WORDS
                     and not words(c) & {"date", "datum"}) and clock_only(c)), None)
        if time is None:
            return None
    else:
        return None
    mapping["ts"] = (date, WHY_COLUMN["ts"])
    mapping["ts_time"] = (time, f"the time of day of {date}, which holds dates only")
    rest = tuple(a for a in others if a not in (date, time))
    alternatives.pop("ts", None)
    if rest:
        alternatives["ts"] = rest
    return None


def _order_value(column: str) -> bool:
    """A name such as "Order Value (EUR)": an order's value, though "value" alone names anything."""
    return {"order", "value"} <= words(column)


def _numeric(typ: str) -> bool:
    return any(k in typ for k in ("int", "float", "double", "decimal", "numeric", "real"))


ORDER_ROLES = ("customer_id", "ts", "revenue")
"""What an orders table needs (the orders reader's required columns)."""
_TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz")
_DATE_SHAPE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")


def _raw_text(path: str):
    """The table as the orders reader sees it: CSV columns kept as text (dates unparsed)."""
    from . import engine

    con = engine.default_connection()
    if path.lower().endswith(_TEXT_SUFFIXES) and getattr(con, "name", "") == "duckdb":
        try:
            return con.read_csv(path, all_varchar=True)
        except Exception as exc:  # noqa: BLE001 - as in _read
            raise engine.read_failure("init", path, exc) from exc
    if path.lower().endswith(engine.EXCEL_SUFFIXES):
        return engine.read_excel([path])
    return _read(path)


def _text_sample(t, column: str, n: int = 20000) -> pd.Series:
    from . import engine

    return engine.to_pandas(t.select(t[column].cast("string").name("v")).limit(n))["v"]


def _looks_like_dates(values: pd.Series) -> bool:
    """Whether (nearly) every non-empty value is a date or a date and time."""
    vals = values.dropna().astype(str).str.strip()
    vals = vals[vals != ""]
    if not len(vals) or vals.str.contains(_DATE_SHAPE).mean() < 0.9:
        return False
    fmt, _ = timestamp_format(vals)
    parsed = pd.to_datetime(vals, format=fmt, errors="coerce") if fmt else \
        pd.to_datetime(vals, errors="coerce", format="ISO8601")
    return parsed.notna().mean() >= 0.9


def guess_orders_columns(path: str) -> dict[str, tuple[str, str]] | None:
    """``{canonical: (their column, why)}`` for ``customer_id``, ``ts`` and ``revenue`` when the
    table at ``path`` reads as an orders table, else ``None``.

    An orders table has no event-name column, a user/customer/client id column, a time
    column (by its name, else a text column whose values are dates) and a numeric
    amount/revenue/total/price column; each row is one purchase.

    Parameters
    ----------
    path
        An export file (or glob).

    Returns
    -------
    dict or None
        ``{canonical: (their column, why)}``, or ``None`` when it is not an orders table.

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> from journeylib.core.draft import guess_orders_columns
    >>> path = tempfile.mkdtemp() + "/orders.csv"
    >>> pd.DataFrame({"shopper_ref": ["u1", "u2", "u1"], "placed": ["2024-01-05", "2024-02-01", "2024-03-09"],
    ...               "amount": [20.0, 35.5, 12.0]}).to_csv(path, index=False)
    >>> {k: their for k, (their, why) in guess_orders_columns(path).items()}
    {'customer_id': 'shopper_ref', 'ts': 'placed', 'revenue': 'amount'}
    >>> guess_orders_columns("data/sample/events.parquet") is None
    True
    """
    t = _read(path)
    types = {c: str(typ).lower() for c, typ in t.schema().items()}
    mapping, _ = _guess_columns(list(types), types, _text_amounts(path, list(types), types))
    if "event" in mapping:
        return None
    if "ts" not in mapping:
        taken = {their for their, _ in mapping.values()}
        raw = _raw_text(path)
        for c in types:
            if c in taken:
                continue
            typ = types[c]
            if "timestamp" in typ or "date" in typ or \
                    ("string" in typ and _looks_like_dates(_text_sample(raw, c, 2000))):
                mapping["ts"] = (c, "its values are dates")
                break
    if not all(k in mapping for k in ORDER_ROLES):
        return None
    return {k: mapping[k] for k in ORDER_ROLES}


def orders_renames(guessed: dict[str, tuple[str, str]], columns: list[str]) -> dict[str, tuple[str, str]]:
    """The part of ``guessed`` the orders reader needs told: the columns it would not pick itself.

    The reader applies ``columns`` to the message log as well, so only names it does not
    recognise (:data:`journeylib.core.readers.ORDER_COLUMNS`) are mapped.

    Parameters
    ----------
    guessed
        The mapping from :func:`guess_orders_columns`.
    columns
        The orders table's columns.

    Returns
    -------
    dict
        The entries of ``guessed`` the reader would not find itself.

    Examples
    --------
    >>> from journeylib.core.draft import orders_renames
    >>> guessed = {"customer_id": ("shopper_ref", "an id"), "ts": ("placed", "a time"),
    ...            "revenue": ("amount", "an amount")}
    >>> sorted(orders_renames(guessed, ["shopper_ref", "placed", "amount"]))
    ['customer_id', 'ts']
    """
    from .readers import ORDER_COLUMNS

    lower = {c.lower(): c for c in columns}
    own = {canon: next((lower[n] for n in names if n in lower), None) for canon, names in ORDER_COLUMNS.items()}
    return {canon: (their, why) for canon, (their, why) in guessed.items() if own.get(canon) != their}


_DATE = re.compile(r"^\s*(\d{1,2})([/.-])(\d{1,2})\2(\d{2,4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?(\s+[AP]M)?\s*$")


def timestamp_format(values: pd.Series) -> tuple[str | None, str | None]:
    """``(format, note)`` for text timestamps such as 03/04/2024 10:00 (a strptime format) or Unix
    times such as 1736078400 (``unix_s``, ``unix_ms``, ``unix_us``); ``(None, None)`` otherwise.

    Parameters
    ----------
    values
        Timestamps as text.

    Returns
    -------
    tuple of (str or None, str or None)
        The ``strptime`` format and a note on how day and month were told apart (flagged
        ``AMBIGUOUS`` when the data cannot tell), or ``(None, None)`` when the values are not
        numeric dates with separators.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeylib.core.draft import timestamp_format
    >>> timestamp_format(pd.Series(["03/04/2024 10:00", "25/04/2024 11:30"]))
    ('%d/%m/%Y %H:%M', 'day-first: some first numbers are above 12')
    >>> timestamp_format(pd.Series(["2024-04-03T10:00:00Z"]))
    (None, None)
    >>> timestamp_format(pd.Series(["Jan 5, 2025 9:00 AM"]))
    ('%b %d, %Y %I:%M %p', 'no doubt about day and month: Jan 5, 2025 9:00 AM reads with this format')
    >>> timestamp_format(pd.Series(["1736078400", "1751328000"]))
    ('unix_s', 'Unix times in seconds: 1736078400 is 2025-01-05 12:00 UTC')
    """
    from . import engine

    vals = values.dropna().astype(str)
    text = vals.str.strip()
    numbers = pd.to_numeric(text[text != ""], errors="coerce")
    if len(numbers) and numbers.notna().all():
        unit = engine.unix_unit(numbers.min(), numbers.max())
        if unit is None:
            return None, None
        first = pd.Timestamp(round(numbers.iloc[0] * engine.UNIX_FORMATS[unit]), unit="us", tz="UTC")
        words_ = {"unix_s": "seconds", "unix_ms": "milliseconds", "unix_us": "microseconds"}[unit]
        return unit, f"Unix times in {words_}: {text[text != ''].iloc[0]} is {first:%Y-%m-%d %H:%M} UTC"
    matches = vals.str.extract(_DATE)
    if len(vals) == 0 or matches[0].isna().mean() > 0.5:
        if named := engine.worded_time_format(text):
            return named, f"no doubt about day and month: {text[text != ''].iloc[0]} reads with this format"
        return None, None
    m = matches.dropna(subset=[0])
    first, second = m[0].astype(int), m[2].astype(int)
    sep = m[1].iloc[0]
    year = "%Y" if m[3].str.len().max() == 4 else "%y"
    clock = "" if m[4].isna().all() else (" %H:%M:%S" if m[6].notna().any() else " %H:%M")
    if m[7].notna().any():  # a 12-hour clock with AM / PM
        clock = clock.replace("%H", "%I") + " %p"
    if (first > 12).any() and not (second > 12).any():
        return f"%d{sep}%m{sep}{year}{clock}", "day-first: some first numbers are above 12"
    if (second > 12).any() and not (first > 12).any():
        return f"%m{sep}%d{sep}{year}{clock}", "month-first: some second numbers are above 12"
    return (f"%d{sep}%m{sep}{year}{clock}",
            "AMBIGUOUS: no day above 12 in the data, so day-first and month-first both fit; check against "
            "a date you know")


def profile(path: str | Path, format: str = "auto") -> Profile:
    """Profile an export: columns and types, event names with counts, time range, id columns.

    ``path`` is an export file, a glob, or a folder holding ``events.*`` (and optionally
    ``customers.*``, ``assignments.*``, ``messages.*``). ``format`` is the export's
    shape (``auto`` detects it from the columns). Raises :class:`JourneyDataError` when
    nothing readable is there.

    Parameters
    ----------
    path
        An export file, a glob, or a folder.
    format
        One of :data:`FORMATS` (``"auto"``: detect it).

    Returns
    -------
    Profile
        What was found; :meth:`Profile.describe` prints it.

    Examples
    --------
    >>> from journeylib.core.draft import profile
    >>> prof = profile("data/sample")
    >>> print(prof.describe().splitlines()[0])
    data/sample: canonical export, 52,966 events of 5,000 customers
    >>> list(prof.mapping)
    ['customer_id', 'ts', 'event', 'channel', 'revenue']
    """
    from . import engine
    from .load import refuse_duplicate_headers

    found = find_files(path)
    files, encodings = {t: engine.unzipped_path(f) for t, f in found.items()}, {}
    for table, f in files.items():  # read as revenue and revenue_1, one of them would be guessed silently
        if engine.file_kind(f) == "csv":
            refuse_duplicate_headers((f,), table)
    for table, f in found.items():  # a file that is not UTF-8 is read, as the loader will, through a copy
        enc = _text_encoding(f)
        if enc:
            files[table], encodings[table] = engine.utf8_copy(f, enc, table), enc
    fmt = _detect(files["events"], format)
    notes: list[str] = []
    source_mapping: dict[str, tuple[str, str]] = {}
    raw_fmt, raw_note, raw_naive = None, None, False
    order_decimal = (".", None)
    if fmt == "canonical":
        t = _read(files["events"])
    else:
        from . import readers

        kw: dict[str, Any] = {}
        if fmt == "orders":
            if "messages" in files:
                kw["messages"] = files["messages"]
            guessed = guess_orders_columns(files["events"]) or {}
            if guessed:
                source_mapping = orders_renames(guessed, list(_read(files["events"]).columns))
                kw["columns"] = {their: canon for canon, (their, _) in source_mapping.items()} or None
                their_ts = guessed["ts"][0]
                raw = _raw_text(files["events"])
                typ = str(raw.schema()[their_ts]).lower()
                if "string" in typ:
                    sample = _text_sample(raw, their_ts)
                    raw_fmt, raw_note = timestamp_format(sample)
                    # text dates carry no zone unless they end in an offset (2025-01-05 10:00:00 -0500)
                    raw_naive = not sample.dropna().astype(str).str.strip().str.contains(ZONE_SUFFIX).all()
                    if raw_fmt:
                        kw["timestamp_format"] = raw_fmt
                else:
                    raw_naive = "timestamp" in typ and "utc" not in typ and "tz" not in typ or typ == "date"
                amounts = _text_amounts(files["events"], list(raw.columns), {c: "string" for c in raw.columns})
                mark, example = amounts.get(guessed["revenue"][0], (".", ""))
                if mark == ",":
                    kw["decimal"] = ","
                    order_decimal = (",", _comma_note(example))
        exported = readers.read_export(fmt, files["events"], **kw)
        t = exported["events"]
        article = "an" if fmt[0] in "aeiou" else "a"
        notes.append(f"read as {article} {fmt} export: the reader maps its columns to the canonical names")
    types = {c: str(typ).lower() for c, typ in t.schema().items()}
    cols = list(types)
    amounts = _text_amounts(files["events"], cols, types) if fmt == "canonical" else {}
    mapping, alternatives = _guess_columns(cols, types, amounts)
    if fmt == "canonical" and (clock_note := _time_of_day(t, mapping, alternatives, types)):
        notes.append(clock_note)
    decimal, decimal_note = ".", None
    mark, example = amounts.get(mapping.get("revenue", (None,))[0], (".", ""))
    if mark == ",":
        decimal, decimal_note = ",", _comma_note(example)
    if fmt != "canonical" and "channel" in mapping and int(t[mapping["channel"][0]].count().execute()) == 0:
        del mapping["channel"]  # the reader's channel column is empty: there are no touchpoints
    rows = int(engine.to_pandas(t.aggregate(n=t.count()))["n"].iloc[0])  # reads every line of a CSV first
    if rows == 0:
        raise JourneyDataError(f"init: {found['events']} has no rows")
    ev_col = mapping.get("event", (None,))[0]
    id_col = mapping.get("customer_id", (None,))[0]
    ts_col = mapping.get("ts", (None,))[0]
    if ev_col is not None:
        grouped = t.group_by(t[ev_col].cast("string").name("event")).aggregate(
            events=t.count(), **({"customers": t[id_col].nunique()} if id_col else {}))
        events = engine.to_pandas(grouped.order_by([ibis.desc("events"), "event"]).limit(MAX_NAMES * 5))
    else:
        events = pd.DataFrame({"event": [], "events": []})
        notes.append("no event name column found: map one under sources.events.columns")
    customers = int(t[id_col].nunique().execute()) if id_col else None
    time_range, fmt_str, fmt_note, naive = (None, None), None, None, False
    abbreviations: tuple[str, ...] = ()
    if ts_col is not None:
        typ = types[ts_col]
        base, x = t, t[ts_col]
        if "ts_time" in mapping:  # read as loading reads it: the date and its time of day as one text
            if str(files["events"]).lower().endswith(_TEXT_SUFFIXES):
                base = _raw_text(files["events"])
            x, typ = engine.joined_date_time(base[ts_col], base[mapping["ts_time"][0]]), "string"
        if "timestamp" in typ or "date" in typ:
            agg = engine.to_pandas(t.aggregate(lo=t[ts_col].min(), hi=t[ts_col].max()))
            time_range = (agg["lo"].iloc[0], agg["hi"].iloc[0])
            naive = "utc" not in typ and "tz" not in typ and "timestamp" in typ or typ == "date"
            if fmt == "canonical" and str(files["events"]).lower().endswith(_TEXT_SUFFIXES):
                # the CSV reader took dates such as 27.02.2025 as timestamps; loading reads them with a
                # stated format only (a day-first or month-first guess is never made silently)
                sample = _text_sample(_raw_text(files["events"]), ts_col)
                fmt_str, fmt_note = timestamp_format(sample)
                # the reader also drops a zone written as UTC (2024-05-01 13:45:00 UTC): the text has it
                naive = naive and not sample.dropna().astype(str).str.strip().str.contains(ZONE_SUFFIX).all()
        else:
            sample = engine.to_pandas(base.select(x.cast("string").name("v")).limit(20000))["v"]
            fmt_str, fmt_note = timestamp_format(sample)
            if _numeric(typ) and fmt_str is None:
                notes.append(f"'{ts_col}' holds numbers that are no Unix times in one unit: map a timestamp "
                             "column as ts, or give timestamp_format")
            if fmt_str:  # the range of every row, as loading will read them (a sample's is not the data's)
                parsed = engine.parse_timestamp(x, fmt_str)
                agg = engine.to_pandas(base.aggregate(lo=parsed.min(), hi=parsed.max()))
                parsed = pd.Series([agg["lo"].iloc[0], agg["hi"].iloc[0]])
                if fmt_str not in engine.UNIX_FORMATS and "%z" not in fmt_str:  # wall-clock times, as written
                    parsed = parsed.dt.tz_localize(None) if getattr(parsed.dt, "tz", None) is not None else parsed
            else:  # mixed offsets read as instants; no offset at all as written
                text = sample.dropna().astype(str).str.strip()
                named = text.str.contains(engine.ZONE_ABBREVIATION) & ~text.str.contains(engine.NOT_ZONE_ABBREVIATION)
                if named.any():  # PST, CEST: read as the zone the draft names (loading does the same)
                    tails = text[named].str.extract(engine.ZONE_ABBREVIATION_TAIL)[0]
                    abbreviations = tuple(sorted(set(tails.str.upper())))
                    sample = text.where(~named, text.str.replace(engine.ZONE_ABBREVIATION_TAIL, "", regex=True))
                parsed = pd.to_datetime(sample, errors="coerce", format="mixed", utc=True)
                if not sample.dropna().astype(str).str.strip().str.contains(ZONE_SUFFIX).any():
                    parsed = parsed.dt.tz_localize(None)
            if parsed.notna().any():
                time_range = (parsed.min(), parsed.max())
                naive = getattr(parsed.dt, "tz", None) is None
    id_columns = {}
    for c in cols:
        if c == id_col or (words(c) & {"id", "uuid", "userid", "customerid"} and "string" in types[c] + "int"):
            try:
                id_columns[c] = int(t[c].nunique().execute())
            except Exception:  # noqa: BLE001 - a nested column has no distinct count
                continue
    campaign = next((c for c in cols if words(c) & CAMPAIGN_WORDS), None)
    currency = next((c for c in cols if words(c) & CURRENCY_WORDS and "string" in types[c]), None)
    stage_col = next((c for c in cols if c.lower() == "stage"), None)
    cust_cols: tuple = ()
    contacts: tuple[str, ...] = ()
    cust_id = None
    if "customers" in files:
        ct = _read(files["customers"])
        ctypes = {c: str(typ).lower() for c, typ in ct.schema().items()}
        cmap, _ = _guess_columns(list(ctypes), ctypes)
        cust_id = cmap.get("customer_id", (None,))[0]
        cust_cols = tuple((c, ctypes[c], int(ct[c].nunique().execute())) for c in ctypes)
        contacts = tuple(c for c, typ, n in cust_cols if "string" in typ and 1 < n <= MAX_SEGMENT_GROUPS
                         and personal_values(ct.select(c).distinct().execute()[c]))
    side: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, str]]]] = {}
    for key in files:
        table = key.split("[")[0]  # costs[1]: the second spend export
        if table in REQUIRED and table not in ("events", "customers") and not (fmt == "orders" and table == "messages"):
            st = _read(files[key])  # the orders reader reads its own messages
            stypes = {c: str(typ).lower() for c, typ in st.schema().items()}
            side[key] = (tuple(stypes), side_columns(table, list(stypes), stypes))
    if fmt == "orders":
        fmt_str, fmt_note, naive = raw_fmt, raw_note, raw_naive
        decimal, decimal_note = order_decimal
    return Profile(str(path), fmt, found, rows, tuple(types.items()), mapping, alternatives, events,
                   time_range, id_columns, customers, fmt_str, fmt_note, naive, cust_cols, cust_id, campaign,
                   stage_col, tuple(notes), source_mapping, decimal, decimal_note, currency, encodings, side,
                   abbreviations, contacts)


def _text_encoding(pattern: str) -> str | None:
    """``"utf-16"`` (or another :func:`journeylib.core.engine.wide_encoding`) when a local CSV or TSV
    of ``pattern`` is written in two or four bytes per character; ``"cp1252"`` when one is not UTF-8
    but reads as Windows-1252 (Excel's plain CSV in Western Europe); ``None`` when every one is
    UTF-8, or is no text file, or reads as neither (the reader's error then says what to do)."""
    import codecs

    from . import engine

    if engine.is_uri(pattern):
        return None
    files = [f for f in engine.list_files(pattern) if Path(f).is_file() and f.lower().endswith((".csv", ".tsv", ".txt"))]
    if wide := next((w for f in files if (w := engine.wide_encoding(f))), None):
        return wide
    for f in files:
        utf8 = codecs.getincrementaldecoder("utf-8")()
        try:
            with open(f, "rb") as src:
                while chunk := src.read(1 << 22):
                    utf8.decode(chunk)
                utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            try:
                with open(f, "rb") as src:
                    cp = codecs.getincrementaldecoder("cp1252")()
                    while chunk := src.read(1 << 22):
                        cp.decode(chunk)
                return "cp1252"
            except UnicodeDecodeError:
                return None
    return None


def _comma_note(example: str) -> str:
    return f"amounts such as {example} are written with a decimal comma"


def _text_amounts(path: str, cols: list[str], types: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Text columns of a CSV or workbook named like an amount whose values are all numbers written
    with commas, spaces or a currency: column -> (decimal mark, an example). ``"."`` when the commas
    group thousands (``1,234.50``; also when every comma is followed by three digits, as in
    ``1,250``) or when only a currency or spaces set them apart from plain numbers (``$12.50``),
    ``","`` for a decimal comma (``13,26``, ``1.234,50``, ``12,50 €``)."""
    from . import engine

    if not str(path).lower().endswith(_TEXT_SUFFIXES + EXCEL_SUFFIXES):
        return {}
    named = [c for c in cols if "string" in types[c] and (_named(c, "revenue") or _order_value(c)
                                                          or c.lower() in COLUMN_GUESSES["revenue"][0])]
    out = {}
    raw = _raw_text(path) if named else None
    for c in named:
        vals = _text_sample(raw, c).dropna().astype(str).str.strip()
        vals = vals[vals != ""]
        if not len(vals):
            continue
        read = engine.amount_values(vals)  # the numbers without a currency or spaces that group thousands
        number = read["text"].astype(str)
        comma = number.str.contains(",", regex=False)
        if read["number"].notna().all() and (comma.any() or (number != vals).any()):
            out[c] = (".", vals[comma | (number != vals)].iloc[0])
        elif comma.any() and (number.str.match(COMMA_AMOUNT) | read["number"].notna()).all():
            out[c] = (",", vals[comma].iloc[0])
    return out



# --- the draft -------------------------------------------------------------------------

def _encoding_line(encoding: str) -> str:
    if encoding.startswith("utf-"):
        return (f"encoding: {encoding}  # guess: the file has two or more bytes per character, as Excel's "
                "\"Unicode Text\" saves it")
    return (f"encoding: {encoding}  # guess: the file is not UTF-8; Windows-1252 is how Excel saves a plain CSV in "
            "Western Europe (check a name with accents in the reports)")


CAMPAIGN_WORDS = {"campaign", "campagne", "kampagne", "campana", "campagna", "campanha", "kampanj", "kampanje"}
"""Words of a column naming the campaign of a message event (in the languages above)."""
CURRENCY_WORDS = {"currency", "wahrung", "devise", "moneda", "divisa", "valuta", "moeda", "waluta", "mena"}
"""Words of a column naming the currency of each amount (English, German, French, Spanish, Italian,
Dutch and Scandinavian, Portuguese, Polish, Czech; accents ignored)."""
SIDE_WORDS = {  # the columns of the assignments, message, feedback and spend tables, besides customer and time
    "experiment": {"experiment", "experiments", "test", "exp", "experiment_id", "experimentid", "experiment_key",
                   "experiment_name", "test_id", "test_name", "abtest", "experimento", "esperimento"},
    "variant": {"variant", "variation", "variation_id", "variationid", "variant_id", "variant_name", "variation_name",
                "arm", "bucket", "treatment", "group", "variante", "variantes", "gruppe", "groupe", "grupo"},
    "campaign": CAMPAIGN_WORDS | {"campaign_id", "campaign_name", "flow", "journey_name"},
    "action": {"action", "event", "event_type", "type", "status", "kind", "activity", "aktion", "ereignis"},
    "spend": {"spend", "cost", "costs", "amount_spent", "spent", "ad_spend", "media_cost", "kosten", "ausgaben",
              "cout", "couts", "gasto", "gastos", "coste", "costo", "kostnad", "omkostninger"},
    "score": {"score", "rating", "stars", "nps", "nps_score", "bewertung", "note", "puntuacion", "valutazione",
              "cijfer", "betyg"},
    "kind": {"kind", "feedback_type", "survey_type", "type", "source", "art", "typ"},
    "text": {"text", "comment", "comments", "review", "review_text", "feedback", "kommentar", "commentaire",
             "comentario", "commento", "opmerking"},
}
SIDE_WHY = {"experiment": "an experiment/test column", "variant": "a variant/variation/arm/group column",
            "campaign": "a campaign column", "action": "an action/event/type column (send, open, click)",
            "spend": "a spend/cost column", "score": "a score/rating column",
            "kind": "a kind/type column (survey, review, nps)", "text": "a comment/text column"}
SIDE_TIME = {"assignments": "assigned_at", "messages": "ts", "feedback": "ts", "costs": "period"}
SIDE_ROLES = {"assignments": ("experiment", "variant"), "messages": ("campaign", "channel", "action"),
              "feedback": ("kind", "score", "text"), "costs": ("channel", "campaign", "spend")}
SIDE_FILES = {"feedback": ("feedback", "reviews", "nps", "surveys", "survey"),
              "costs": ("costs", "spend", "ad_spend", "marketing_costs", "marketing_spend")}
"""File names (before the first dot) of the feedback and spend tables beside the events."""


def side_columns(table: str, cols: list[str], types: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Canonical name -> ``(column, why)`` for an assignments, message, feedback or spend table, by the
    columns' names.

    Parameters
    ----------
    table
        ``"assignments"``, ``"messages"``, ``"feedback"`` or ``"costs"``.
    cols, types
        The table's columns and their types (lower-case text, as :func:`profile` reads them).

    Returns
    -------
    dict of str to tuple of (str, str)
        Only the columns found; a canonical name already in ``cols`` maps to itself.

    Examples
    --------
    >>> from journeylib.core.draft import side_columns
    >>> cols = ["user_id", "experiment_id", "variation_id", "timestamp"]
    >>> {k: v[0] for k, v in side_columns("assignments", cols, dict.fromkeys(cols, "string")).items()}
    {'customer_id': 'user_id', 'assigned_at': 'timestamp', 'experiment': 'experiment_id', 'variant': 'variation_id'}
    >>> cols = ["Month", "Channel", "Campaign", "Cost"]
    >>> {k: v[0] for k, v in side_columns("costs", cols, dict.fromkeys(cols, "string")).items()}
    {'period': 'Month', 'channel': 'Channel', 'campaign': 'Campaign', 'spend': 'Cost'}
    """
    base, _ = _guess_columns(cols, types)
    out = {k: base[k] for k in ("customer_id",) if k in base and table != "costs"}
    if SIDE_TIME[table] in cols:
        out[SIDE_TIME[table]] = (SIDE_TIME[table], "")
    elif "ts" in base:
        out[SIDE_TIME[table]] = (base["ts"][0], WHY_COLUMN["ts"])
    elif table == "costs":  # a spend report's day, week or month
        period = {"period", "month", "day", "week", "date", "monat", "mois", "mes", "starts", "timeperiod", "zeitraum",
                  "periode", "tag", "jour", "dia", "datum"}
        hit = next((c for c in cols if words(c) & period), None)
        if hit is not None:
            out["period"] = (hit, "a period/month/day column")
    for canon in SIDE_ROLES[table]:
        taken = {their for their, _ in out.values()}
        if canon in cols:
            out[canon] = (canon, "")
        elif canon == "channel":
            if "channel" in base and base["channel"][0] not in taken:
                out["channel"] = base["channel"]
        else:
            free = [c for c in cols if c not in taken]
            hit = next((c for c in free if re.sub(r"[\s-]+", "_", c.strip().lower()) in SIDE_WORDS[canon]), None) \
                or next((c for c in free if words(c) & SIDE_WORDS[canon]), None)
            if hit is not None:
                out[canon] = (hit, SIDE_WHY[canon])
    return out

ZONE_OF_ABBREVIATION = {
    **dict.fromkeys(("PST", "PDT"), "America/Los_Angeles"), **dict.fromkeys(("MST", "MDT"), "America/Denver"),
    **dict.fromkeys(("CST", "CDT"), "America/Chicago"), **dict.fromkeys(("EST", "EDT"), "America/New_York"),
    **dict.fromkeys(("AKST", "AKDT"), "America/Anchorage"), "HST": "Pacific/Honolulu",
    **dict.fromkeys(("WET", "WEST"), "Europe/Lisbon"), "BST": "Europe/London",
    **dict.fromkeys(("CET", "CEST", "MEZ", "MESZ"), "Europe/Berlin"), **dict.fromkeys(("EET", "EEST"), "Europe/Athens"),
    **dict.fromkeys(("AEST", "AEDT"), "Australia/Sydney"), "JST": "Asia/Tokyo",
    **dict.fromkeys(("NZST", "NZDT"), "Pacific/Auckland")}
"""The zone ``init`` guesses for a zone abbreviation the times end in (always with a comment to check it: an
abbreviation alone names no one zone, BST is also Bangladesh's and CST China's)."""

LOYALTY_WORDS = {"loyalty", "member", "membership", "vip", "rewards", "reward", "club", "programme", "program",
                 "treue", "mitglied", "mitgliedschaft", "fidelite", "fidelidad", "fedelta", "lidmaatschap"}
"""Words of a customers column about a loyalty programme (English, German, French, Spanish, Italian, Dutch)."""
JOIN_WORDS = {"joined", "join", "since", "enrolled", "enrollment", "enrolment", "start", "started", "date", "at",
              "beitritt", "seit", "inscription", "alta", "iscrizione", "sinds"}
"""Words of a column holding the date a customer joined (with a :data:`LOYALTY_WORDS` word)."""


def loyalty_columns(customer_columns: Iterable[tuple[str, str, int]]) -> dict[str, tuple[str, str]]:
    """``loyalty_joined_at`` and ``loyalty_member`` of a customers table, by the columns' names and types.

    Parameters
    ----------
    customer_columns
        ``(name, type, distinct values)`` of each column, as :func:`profile` reads them.

    Returns
    -------
    dict of str to tuple of (str, str)
        Canonical name -> ``(column, why)``, only those found: a date (or text) column named for
        joining the programme, and a true/false column named for membership.

    Examples
    --------
    >>> from journeylib.core.draft import loyalty_columns
    >>> cols = [("Customer ID", "string", 90), ("VIP Member Since", "date", 40), ("Rewards Member", "boolean", 2)]
    >>> {k: v[0] for k, v in loyalty_columns(cols).items()}
    {'loyalty_joined_at': 'VIP Member Since', 'loyalty_member': 'Rewards Member'}
    """
    out: dict[str, tuple[str, str]] = {}
    for c, typ, _ in customer_columns:
        w = words(c)
        if not w & LOYALTY_WORDS:
            continue
        if "loyalty_joined_at" not in out and w & JOIN_WORDS and any(k in typ for k in ("timestamp", "date", "string")):
            out["loyalty_joined_at"] = (c, "a loyalty/member join date column")
        elif "loyalty_member" not in out and "bool" in typ:
            out["loyalty_member"] = (c, "a loyalty/member yes-no column")
    return out


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def _s(value: Any) -> str:
    """A YAML scalar: bare when safe, else a double-quoted (JSON) string."""
    text = str(value)
    return text if _PLAIN.match(text) and text.lower() not in _YAML_WORDS else json.dumps(text, ensure_ascii=False)


FEEDBACK_KIND_FILES = {"reviews": "review", "nps": "nps", "surveys": "survey", "survey": "survey"}
"""A feedback file's name (before the first dot) that tells the kind of every row when no column does."""


def _side_lines(table: str, cols: tuple[str, ...], guessed: dict[str, tuple[str, str]], path: str) -> list[str]:
    """The ``columns:`` block of an assignments, message, feedback or spend source, and its ``values``
    when the file's name tells a feedback table's kind."""
    required = REQUIRED[table]
    renames = [(their, canon, why) for canon, (their, why) in guessed.items() if their != canon]
    missing = [c for c in required if c not in guessed and c not in cols]
    stem = re.split(r"[_-]", Path(path).name.split(".")[0].lower())[0]  # reviews_trustpilot.csv: reviews
    if table == "feedback" and "kind" in missing and stem in FEEDBACK_KIND_FILES:
        missing.remove("kind")
        return (_columns_block(renames, missing, ONE_VALUE_EXAMPLES[table])
                + [f"    values: {{kind: {FEEDBACK_KIND_FILES[stem]}}}  # guess: the file is named {_s(stem)}, "
                   "and no column tells the kind: every row gets this one"])
    return _columns_block(renames, missing, ONE_VALUE_EXAMPLES.get(table))


def _columns_block(renames: list[tuple[str, str, str]], missing: list[str],
                   one_value: Mapping[str, str] | None = None) -> list[str]:
    """A source's ``columns:`` block: guessed renames ``(their, canonical, why)``, and the columns no name
    told (to fill in; ``one_value``: an example for those a whole export may have one value of); nothing
    when there are neither."""
    one_value = one_value or {}
    if not renames and not missing:
        return []
    lines = ["    columns:  # THEIR name: canonical name (guessed)"]
    lines += [f"      {_s(their)}: {canon}  # guess: {why}" for their, canon, why in renames]
    lines += [f"      # ???: {canon}  # could not guess which column is {canon}: fill in"
              + (f", or give every row one {canon} under values: {{{canon}: {one_value[canon]}}}"
                 if canon in one_value else "") for canon in missing]
    return lines


def _list(values: list[str]) -> str:
    # names as the loader reads them: spaces at an end dropped ("purchase " is purchase), each once
    return "[" + ", ".join(_s(v) for v in dict.fromkeys(str(v).strip() for v in values)) + "]"


def _rel(path: str, folder: Path) -> str:
    if "://" in path:
        return path
    try:
        rel = os.path.relpath(Path(path).resolve(), folder.resolve())
    except ValueError:  # another drive (Windows)
        rel = ".."
    return str(Path(path).resolve()) if rel.startswith("..") else Path(rel).as_posix()


def draft_text(prof: Profile, folder: str | Path) -> str:
    """The draft ``journey.yml`` for ``prof``; source paths relative to ``folder`` (where the file goes).

    Parameters
    ----------
    prof
        A profile from :func:`profile`.
    folder
        The folder the draft will be written to.

    Returns
    -------
    str
        The YAML text, every guess with a comment.

    Examples
    --------
    >>> from journeylib.core.draft import draft_text, profile
    >>> text = draft_text(profile("data/sample"), "data/sample")
    >>> print("\\n".join(text.splitlines()[6:8]))
      events:
        path: events.parquet  # 52,966 events
    """
    folder = Path(folder)
    out: list[str] = [
        f"# Draft journey definition written by `journeylib init {prof.source}`.",
        "# Every guess carries a comment: check each one, edit the stage rules, then run",
        "#   journeylib check journey.yml",
        "version: 1",
        f"name: {_s(Path(str(prof.source).rstrip('/')).stem or 'My journey')}  # shown in report titles",
        "sources:",
        "  events:",
        f"    path: {_s(_rel(prof.files['events'], folder))}  # {prof.rows:,} events",
        f"    format: {prof.format}" + ("  # detected from the columns" if prof.format != "canonical" else ""),
    ]
    canonical = prof.format == "canonical"
    if canonical:
        renames = [(their, canon, why + (f"; other candidates: {', '.join(prof.alternatives[canon])}"
                                         if prof.alternatives.get(canon) else ""))
                   for canon, (their, why) in prof.mapping.items() if their != canon and canon != "revenue"]
        out.extend(_columns_block(renames, [c for c in ("customer_id", "ts", "event") if c not in prof.mapping]))
    elif prof.source_mapping:
        out.append("    columns:  # THEIR name: canonical name (guessed; the orders reader's names)")
        for canon, (their, why) in prof.source_mapping.items():
            out.append(f"      {_s(their)}: {canon}  # guess: {why}")
    if canonical or prof.format == "orders":
        zones = {ZONE_OF_ABBREVIATION.get(a) for a in prof.zone_abbreviations}
        if prof.zone_abbreviations and len(zones) == 1 and None not in zones:
            out.append(f"    timezone: {zones.pop()}  # guess: the times end in {'/'.join(prof.zone_abbreviations)}, "
                       "read as this zone's; an abbreviation names no one zone: check it")
        elif prof.zone_abbreviations:
            out.append(f"    timezone: UTC  # ???: the times end in {'/'.join(prof.zone_abbreviations)}: set the zone "
                       "they were written in (e.g. Europe/London)")
        elif prof.naive_time:
            out.append("    timezone: UTC  # guess: the timestamps carry no zone; set the zone they were written in")
        if prof.timestamp_format:
            out.append(f"    timestamp_format: {_s(prof.timestamp_format)}  # guess: {prof.timestamp_note}")
    if (canonical or prof.format == "orders") and prof.decimal != ".":
        out.append(f"    decimal: {_s(prof.decimal)}  # guess: {prof.decimal_note}")
    if (canonical or prof.format == "orders") and "events" in prof.encodings:
        out.append(f"    {_encoding_line(prof.encodings['events'])}")
    for table in ("customers", "assignments", "messages", "feedback", "costs"):
        keys = [k for k in prof.files if k.split("[")[0] == table]
        if len(keys) > 1:  # several exports of one table: a list, each item with its own keys
            out.append(f"  {table}:  # {len(keys)} exports of this table, read as one: their rows together")
            for k in keys:
                block = [f"    path: {_s(_rel(prof.files[k], folder))}  # found beside the events"]
                if k in prof.encodings:
                    block.append(f"    {_encoding_line(prof.encodings[k])}")
                if k in prof.side_columns:
                    block.extend(_side_lines(table, *prof.side_columns[k], prof.files[k]))
                out.extend(["    - " + block[0][4:]] + ["  " + line for line in block[1:]])
            continue
        if table in prof.files:
            out.append(f"  {table}:")
            out.append(f"    path: {_s(_rel(prof.files[table], folder))}  # found beside the events")
            if table in prof.encodings:
                out.append(f"    {_encoding_line(prof.encodings[table])}")
            if table == "customers":
                renames = [(prof.customer_id_column, "customer_id", "the id column")] \
                    if prof.customer_id_column and prof.customer_id_column != "customer_id" else []
                renames += [(their, canon, why) for canon, (their, why) in
                            loyalty_columns(prof.customer_columns).items() if their != canon]
                out.extend(_columns_block(renames, []))
            if table in prof.side_columns:
                out.extend(_side_lines(table, *prof.side_columns[table], prof.files[table]))
    names = [str(e) for e in prof.events["event"]][:MAX_NAMES]
    counts = dict(zip(prof.events["event"].astype(str), prof.events["events"]))
    roles = guess_roles(names)
    placed: dict[str, list[str]] = {}
    unplaced: list[tuple[str, str]] = []
    for name in names:
        stage, why = guess_stage(name)
        if stage is None:
            unplaced.append((name, why))
        else:
            placed.setdefault(stage, []).append(name)
    purchases, other_purchases = _pick_purchase(roles["purchase"]) if roles.get("purchase") else ([], [])
    out.append("stages:")
    if prof.stage_column:
        order = list(DEFAULT_STAGES)
        out.append(f"  order: {_list(order)}  # guess: the kit's stage names; use your stage column's values in order")
        out.append(f"  column: {_s(prof.stage_column)}  # the data already has a stage column: used as is")
    else:
        stages_used = [s for s in DEFAULT_STAGES if s in placed or (s == "repeat" and "purchase" in placed)]
        out.append(f"  order: {_list(stages_used or list(DEFAULT_STAGES))}  # the stages the rules below use, "
                   "in journey order")
        out.append("  rules:  # first matching rule wins; events no rule matches stay stage-less (check lists them)")
        for stage in stages_used:
            if stage == "repeat":
                continue
            group = placed.get(stage, [])
            why = {"purchase": "purchase/order/payment_done/checkout_complete"}.get(stage) or \
                next((w for s, _, w in STAGE_WORDS if s == stage), "")
            if stage == "purchase":
                first = purchases or group[:1]
                key = f"event: {_s(first[0])}" if len(first) == 1 else f"events: {_list(first)}"
                out.append(f"    - {{stage: purchase, {key}, occurrence: first}}  "
                           f"# guess: {why}; a customer's first one")
                out.append(f"    - {{stage: repeat, {key}}}  # later ones")
                rest = [g for g in group if g not in first]
                if rest:
                    out.append(f"    # - {{stage: purchase, events: {_list(rest)}}}  # also look like orders: "
                               "add them only if each one is a separate order")
                continue
            counted = ", ".join(f"{g} {int(counts.get(g, 0)):,}" for g in group[:6])
            key = f"event: {_s(group[0])}" if len(group) == 1 else f"events: {_list(group)}"
            out.append(f"    - {{stage: {stage}, {key}}}  # guess: {why} ({counted}{', ...' if len(group) > 6 else ''})")
    out.append("events:  # events with a role (renamed to the kit's names when loaded)")
    if purchases:
        extra = f"; also order-like: {', '.join(other_purchases)}" if other_purchases else ""
        spelt = "; one event written several ways" if len(purchases) > 1 else ""
        n = sum(int(counts.get(p, 0)) for p in purchases)
        out.append(f"  purchase: {_list(purchases)}  # guess: the order event ({n:,}{spelt}){extra}")
    else:
        out.append("  # purchase: [your_order_event]  # no purchase/order event found: name yours")
    if "revenue" in prof.mapping and canonical:
        their, why = prof.mapping["revenue"]
        out.append(f"  revenue: {_s(their)}  # guess: the order value ({why})")
        if prof.currency_column:
            out.append(f"  currency: {_s(prof.currency_column)}  # guess: the currency of each amount (revenue "
                       "must be in one currency: the check stops when it is not)")
    for role in ("cart", "review", "referral", "message_sent", "message_open", "message_click"):
        if roles.get(role):
            out.append(f"  {role}: {_list(roles[role])}  # guess: from the event names")
    if prof.campaign_column and any(r.startswith("message_") for r in roles):
        out.append(f"  campaign_column: {_s(prof.campaign_column)}  # guess: the campaign of message events")
    out.append("touchpoints:")
    if "channel" in prof.mapping:
        their, why = prof.mapping["channel"]
        out.append(f"  column: channel  # guess: {_s(their)} is {why}; its non-null values are the touchpoints")
    else:
        clicks = roles.get("message_click", [])
        out[-1] = "# touchpoints:  # no channel/source/medium column: channel attribution needs touchpoints"
        out.append(f"#   events: {_list(clicks or ['ad_click'])}  # name the events that are touchpoints, if any")
    segments = [c for c, typ, n in prof.customer_columns
                if c != (prof.customer_id_column or "customer_id") and "string" in typ and 1 < n <= MAX_SEGMENT_GROUPS
                and not is_personal_detail(c) and c not in prof.contact_columns]
    if segments:
        out.append(f"segments: {_list(segments)}  # guess: customers' text columns with few values; "
                   "the first is the default split")
    lo, hi = prof.time_range
    if lo is not None:
        out.append(f"# period: {{start: {pd.Timestamp(lo).date()}, end: {pd.Timestamp(hi).date()}}}  "
                   "# the data's range; or {last_days: 365}")
    if unplaced:
        out.append("")
        out.append(f"# Event names no rule places ({len(unplaced)}): add a rule for those that mark a stage.")
        for name, why in unplaced:
            out.append(f"#   {name}: {int(counts.get(name, 0)):,} events ({why})")
    if len(prof.events) > MAX_NAMES:
        out.append(f"# ... and {len(prof.events) - MAX_NAMES:,} rarer event names not shown")
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class Draft:
    """A written draft: where it went, what it says and the profile it came from.

    Examples
    --------
    >>> import tempfile
    >>> from journeylib.core.draft import write_draft
    >>> draft = write_draft("data/sample", out=tempfile.mkdtemp() + "/journey.yml")
    >>> draft.path.name, draft.profile.rows, draft.text.startswith("# Draft journey definition")
    ('journey.yml', 52966, True)
    """

    path: Path
    text: str
    profile: Profile


def write_draft(path: str | Path, *, out: str | Path | None = None, format: str = "auto") -> Draft:
    """Profile ``path`` and write a draft ``journey.yml`` (default: beside the data).

    Never overwrites: an existing ``out`` is a :class:`JourneyParameterError` that says so.

    Parameters
    ----------
    path
        An export file, a glob, or a folder.
    out
        Where to write the draft (default: ``journey.yml`` beside the data).
    format
        One of :data:`FORMATS` (``"auto"``: detect it).

    Returns
    -------
    Draft
        The path written, the text and the profile.

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> from journeylib.core.draft import write_draft
    >>> folder = tempfile.mkdtemp()
    >>> pd.DataFrame({"user_id": ["u1", "u2", "u1"], "order_date": ["2024-01-05", "2024-02-01", "2024-03-09"],
    ...               "total": [20.0, 35.5, 12.0]}).to_csv(folder + "/orders.csv", index=False)
    >>> draft = write_draft(folder)
    >>> draft.profile.format, draft.path.name
    ('orders', 'journey.yml')
    >>> write_draft(folder)
    Traceback (most recent call last):
    ...
    journeylib.core.errors.JourneyParameterError: init: ... already exists and is never overwritten; ...
    """
    files_at = Path(str(path))
    if out is None:
        out = (files_at if files_at.is_dir() else files_at.parent) / "journey.yml"
    out = Path(out)
    if out.exists():
        raise JourneyParameterError(f"init: {out} already exists and is never overwritten; "
                                    "pass --out NEW_FILE or move the old file away")
    prof = profile(path, format)
    text = draft_text(prof, out.parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "x", encoding="utf-8") as fh:  # "x": fails if the file appeared meanwhile
        fh.write(text)
    return Draft(out, text, prof)
