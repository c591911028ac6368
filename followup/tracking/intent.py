"""Reply intent by transparent rules: what a candidate's reply says, and why we think so.

Precedence (the first rule that holds decides):

1. Headers: ``Auto-Submitted`` other than ``no``, ``X-Autoreply``/``X-Autorespond``, ``Precedence``
   bulk/junk/list/auto_reply, a mailer-daemon/postmaster/no-reply sender, or an auto-reply subject
   prefix (en, de, fr, es, pt) mark the message automatic. ``X-Auto-Response-Suppress`` does not:
   Outlook puts it on mail people write. An automatic message is out_of_office when its wording
   (or its subject) speaks of absence, auto_reply otherwise.
2. Wording of absence (out of office, vacation, "back on 12 January") -> out_of_office, with the
   return date when the text gives one; wording of a bot ("this mailbox is not monitored", a
   ticket number, "automated message") -> auto_reply.
3. Only the new text counts: quoted history and the signature are removed first.
4. A request to stop contact ("please stop emailing me") -> opt_out; it comes before a decline because it
   also suppresses the address, and "not interested, stop contacting me" asks for both.
5. An explicit decline, including taking a job elsewhere ("I accepted another offer"), beats
   polite words and the word "accept" -> declined.
6. A question (a question mark or a question phrase) -> question.
7. A clear acceptance -> accepted.
8. Anything else -> replied.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from email.parser import HeaderParser
from html.parser import HTMLParser

from followup.models import Outcome

__all__ = ["ReplyReading", "read_reply"]


@dataclass(frozen=True)
class ReplyReading:
    outcome: str
    reasons: tuple[str, ...]
    returns_on: date | None
    language: str | None
    new_text: str


_LANGUAGES = ("en", "de", "fr", "es", "pt")

_AUTO_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(matic)?[- ]?reply|out of (the )?office|abwesenheitsnotiz|automatische antwort"
    r"|r[ée]ponse automatique|absence|respuesta autom[áa]tica|fuera de la oficina|resposta autom[áa]tica"
    r"|aus[eê]ncia|fora do escrit[óo]rio)\b",
    re.I,
)
_AUTO_SENDER = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|noreply)[@+]", re.I)

# A ticket bot names the ticket ("your ticket", "ticket #123"); a candidate may mention a plane ticket.
_TICKET = r"\b(your|a|ihr|votre|su|seu) ticket\b|\bticket (#|no\b|number|nr)"

_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "absence": {
        "en": (r"out of (the )?office", r"on (vacation|holiday|leave|annual leave|parental leave)",
               r"\b(i am|i'm|currently) away\b", r"back (on|in) (\w+day|\d|the office)",
               r"will (be back|return) (on|to|in)\b", r"limited access to (my )?e-?mail"),
        "de": (r"nicht im b[üu]ro", r"\burlaub\b", r"abwesend", r"wieder erreichbar", r"wieder da",
               r"abwesenheit"),
        "fr": (r"absente?\b", r"en cong[ée]s?", r"de retour", r"hors du bureau"),
        "es": (r"fuera de la oficina", r"de vacaciones", r"ausente", r"volver[ée]", r"\bregreso\b"),
        "pt": (r"fora do escrit[óo]rio", r"de f[ée]rias", r"ausente", r"\bvolto\b", r"\bretorno (em|no dia|a)\b"),
    },
    "bot": {
        "en": (r"(mailbox|inbox|address) is not monitored", r"do not reply", _TICKET,
               r"automated (message|response|reply)", r"we have received your (e-?mail|message|request)"),
        "de": (r"nicht [üu]berwacht", r"antworten sie nicht", r"automatische antwort", _TICKET,
               r"automatisch generiert", r"wir haben ihre anfrage erhalten"),
        "fr": (r"n'est pas surveill[ée]e", r"ne pas r[ée]pondre", r"r[ée]ponse automatique", _TICKET,
               r"g[ée]n[ée]r[ée] automatiquement", r"bien re[çc]u votre demande"),
        "es": (r"no est[áa] supervisado", r"no responda", r"respuesta autom[áa]tica", _TICKET,
               r"generado autom[áa]ticamente", r"hemos recibido su solicitud"),
        "pt": (r"n[ãa]o [ée] monitorad[ao]", r"n[ãa]o responda", r"resposta autom[áa]tica", r"\bchamado\b",
               r"gerada automaticamente", r"recebemos sua solicita[çc][ãa]o"),
    },
    "decline": {
        "en": (r"\bi will pass\b", r"\bi'?ll pass\b", r"\bdecline\b", r"\bno,? thanks?\b", r"not (to )?move forward",
               r"accepted (another|an?other|a different) (offer|position|role)", r"\bnot interested\b",
               r"(turn|turning) down", r"won'?t be (joining|accepting)"),
        "de": (r"\babsagen\b", r"\bsage\b.*\bab\b", r"anderes angebot angenommen", r"nicht anzunehmen",
               r"f[üu]r ein anderes unternehmen entschieden", r"nein,? danke"),
        "fr": (r"d[ée]cliner", r"ne (donnerai|donnerons|pas donner) (donc )?(pas )?suite", r"pas donner suite",
               r"accept[ée] une autre offre", r"non merci"),
        "es": (r"\brechazar\b", r"aceptado otra oferta", r"no continuar[ée]", r"no seguir adelante",
               r"no puedo aceptar", r"no,? gracias"),
        "pt": (r"\brecusar\b", r"aceitei outra (oferta|proposta)", r"n[ãa]o vou seguir", r"n[ãa]o seguir adiante",
               r"n[ãa]o posso aceitar", r"n[ãa]o,? obrigad[oa]"),
    },
    "opt_out": {
        "en": (r"stop (emailing|contacting|sending)", r"\bunsubscribe\b", r"remove me from"),
        "de": (r"keine (e-mails|nachrichten|weiteren nachrichten)", r"entfernen sie mich", r"\babmelden\b"),
        "fr": (r"ne plus m'envoyer", r"me retirer de", r"d[ée]sinscri", r"ne souhaite plus recevoir"),
        "es": (r"dejen? de enviarme", r"elim[íi]n(en|adme)me", r"darme de baja", r"no deseo recibir m[áa]s"),
        "pt": (r"parem de me enviar", r"removam-me", r"cancelar (a )?inscri[çc][ãa]o", r"n[ãa]o quero receber mais"),
    },
    "question": {
        "en": (r"\?", r"could you (tell|share)", r"i('d| would) like to know"),
        "de": (r"\?", r"k[öo]nnten sie mir"),
        "fr": (r"\?", r"pourriez-vous"),
        "es": (r"\?", r"podr[íi]an"),
        "pt": (r"\?", r"poderiam"),
    },
    "accept": {
        "en": (r"\bi (happily |gladly )?accept\b", r"^\W*yes\b", r"count me in", r"delighted to accept", r"i'?m in\b"),
        "de": (r"nehme .*\ban\b", r"^\W*ja\b", r"\bsage (ich )?(gerne |gern )?zu\b", r"zusage"),
        "fr": (r"j'accepte", r"^\W*oui\b", r"acceptation"),
        "es": (r"\bacepto\b", r"^\W*(sí\b|si\s*[,.!])"),
        "pt": (r"\baceito\b", r"^\W*sim\b", r"aceitar a oferta"),
    },
}
# A bare "yes"/"ja"/"sí" is only an answer when it opens the reply (after its greeting, if any);
# an unaccented "si" only with punctuation after it, as it is also Spanish "if".
_COMPILED = {kind: {lang: [re.compile(p, re.I) for p in pats] for lang, pats in by.items()}
             for kind, by in _WORDS.items()}

# Language guess by common function words; short replies ("Ja", "Sim") are caught by the accept words.
_MARKERS = {
    "en": r"\b(the|and|you|thanks|thank|i am|i'm|please|yes|is)\b",
    "de": r"\b(ich|und|nicht|danke|bitte|sie|ja|ist|das)\b",
    "fr": r"\b(je|et|merci|vous|pas|est|oui|le|la)\b",
    "es": r"\b(el|gracias|por favor|estoy|usted|sí|¿|es|de la)\b|¿|¡",
    "pt": r"\b(obrigad[oa]|não|estou|você|sim|é|em|do|da)\b|ção\b",
}

# mail-parser-reply 1.36 knows no Portuguese and its Spanish header rule missed "El ..., X escribió:" in
# testing; both, and a forwarded or Outlook "Original Message" block, are cut here before it runs.
_QUOTE_START = re.compile(
    r"^\s*(El .{4,200}escribi[óo]:|Em .{4,200}escreveu:|-{2,}\s*(Forwarded message|Mensaje reenviado|"
    r"Mensagem encaminhada|Weitergeleitete Nachricht|Message transf[ée]r[ée])\s*-{2,}"
    r"|-{2,}\s*Original Message\s*-{2,})",
    re.I | re.M,
)
_DATE_PHRASE = re.compile(
    r"\d{1,2}[./]\d{1,2}[./]\d{2,4}"
    r"|\d{1,2}\.?\s+(de\s+)?[a-zäéûç]{3,10}\.?(\s+(de\s+)?\d{4})?"
    r"|(january|february|march|april|may|june|july|august|september|october|november|december)\s+\d{1,2}(,?\s+\d{4})?"
    r"|\b(monday|tuesday|wednesday|thursday|friday|montag|dienstag|mittwoch|donnerstag|freitag|lundi|mardi|mercredi"
    r"|jeudi|vendredi|lunes|martes|mi[ée]rcoles|jueves|viernes|segunda|ter[çc]a|quarta|quinta|sexta)\b",
    re.I,
)


class _Text(HTMLParser):
    _BLOCKS = {"p", "div", "br", "li", "tr", "blockquote", "h1", "h2", "h3"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._quote_depth = 0

    def handle_starttag(self, tag, attrs):
        # A blockquote (or Gmail's quote div) holds history, so it is dropped rather than read.
        if tag == "blockquote" or (tag == "div" and "gmail_quote" in (dict(attrs).get("class") or "")):
            self._quote_depth += 1
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag == "blockquote" and self._quote_depth:
            self._quote_depth -= 1

    def handle_data(self, data):
        if not self._quote_depth:
            self.parts.append(data)


def _html_to_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\n\s*\n+", "\n\n", "".join(parser.parts)).strip()


def _headers(headers: str | Mapping[str, str] | None) -> dict[str, str]:
    if headers is None:
        return {}
    if isinstance(headers, str):
        return {k.lower(): str(v) for k, v in HeaderParser().parsestr(headers).items()}
    return {k.lower(): str(v) for k, v in headers.items()}


def _header_reasons(headers: dict[str, str], subject: str | None, sender: str | None) -> list[str]:
    found = []
    auto = headers.get("auto-submitted", "").strip().lower()
    if auto and auto != "no":
        found.append(f"header Auto-Submitted: {auto}")
    for name in ("x-autoreply", "x-autorespond", "x-autogenerated"):
        if name in headers:
            found.append(f"header {name}: {headers[name]}")
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in {"bulk", "junk", "list", "auto_reply"}:
        found.append(f"header Precedence: {precedence}")
    if sender and _AUTO_SENDER.search(sender.strip()):
        found.append(f"sender {sender.strip()}")
    if subject and _AUTO_SUBJECT.search(subject):
        found.append(f"subject {subject.strip()!r}")
    return found


def _new_text(text: str) -> str:
    # Imported here, as dateparser below, so that importing the tracking package stays cheap for the
    # webhook receiver, which never reads wording.
    from mailparser_reply import EmailReplyParser

    cut = _QUOTE_START.search(text)
    if cut:
        text = text[: cut.start()]
    text = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))
    reply = EmailReplyParser(languages=["en", "de", "fr", "es"]).parse_reply(text=text)
    return (reply if reply is not None else text).strip()


# A greeting line says nothing of intent, and would hide the "Ja, gerne!" that opens the reply.
_GREETING = re.compile(
    r"^\s*(hi|hello|hey|dear|good (morning|afternoon)|hallo|liebe[rs]?|sehr geehrte[rs]?|guten (tag|morgen)"
    r"|bonjour|bonsoir|salut|cher|chère|madame|monsieur|hola|estimad[oa]s?|buen(os|as) (días|tardes)"
    r"|olá|ola|oi|prezad[oa]s?|car[oa]|bom dia|boa tarde)\b[^\n]{0,60}\n",
    re.I,
)


def _without_greeting(text: str) -> str:
    return _GREETING.sub("", text, count=1)


def _language(text: str) -> str | None:
    scores = {lang: len(re.findall(p, text, re.I)) for lang, p in _MARKERS.items()}
    best = max(scores, key=scores.get)
    return best if scores[best] else None


def _match(kind: str, text: str, language: str | None) -> str | None:
    order = [language] + [lang for lang in _LANGUAGES if lang != language] if language else list(_LANGUAGES)
    for lang in order:
        for pattern in _COMPILED[kind][lang]:
            hit = pattern.search(text)
            if hit:
                return hit.group(0)
    return None


def _return_date(text: str, language: str | None, received_at: datetime | None) -> date | None:
    # dateparser works offline from its bundled language data; it reads the phrase a regex found, because
    # its search_dates over a whole message also picks up stray words as dates.
    import dateparser

    settings = {"PREFER_DATES_FROM": "future", "DATE_ORDER": "DMY"}
    if received_at is not None:
        settings["RELATIVE_BASE"] = received_at.replace(tzinfo=None)
    languages = [language] if language else list(_LANGUAGES)
    for hit in _DATE_PHRASE.finditer(text):
        parsed = dateparser.parse(hit.group(0), languages=languages, settings=settings)
        if parsed is not None:
            return parsed.date()
    return None


def read_reply(*, text: str | None, html: str | None = None, subject: str | None = None,
               headers: str | Mapping[str, str] | None = None, sender: str | None = None,
               received_at: datetime | None = None) -> ReplyReading:
    """Read one reply by the precedence in this module's docstring."""
    body = text if text and text.strip() else (_html_to_text(html) if html else "")
    new = _without_greeting(_new_text(body)) if body else ""
    language = _language(new)
    automatic = _header_reasons(_headers(headers), subject, sender)

    absence = _match("absence", new, language)
    bot = _match("bot", new, language)
    if automatic or absence or bot:
        reasons = list(automatic)
        if absence and not bot:
            reasons.append(f"absence: {absence!r}")
            return ReplyReading(Outcome.OUT_OF_OFFICE.value, tuple(reasons),
                                _return_date(new, language, received_at), language, new)
        if bot:
            reasons.append(f"bot: {bot!r}")
            return ReplyReading(Outcome.AUTO_REPLY.value, tuple(reasons), None, language, new)
        if subject and re.search(r"abwesen|out of|absence|aus[eê]ncia|fuera", subject, re.I):
            return ReplyReading(Outcome.OUT_OF_OFFICE.value, tuple(reasons),
                                _return_date(new, language, received_at), language, new)
        return ReplyReading(Outcome.AUTO_REPLY.value, tuple(reasons), None, language, new)

    for kind, outcome in (("opt_out", Outcome.OPT_OUT), ("decline", Outcome.DECLINED),
                          ("question", Outcome.QUESTION), ("accept", Outcome.ACCEPTED)):
        hit = _match(kind, new, language)
        if hit:
            return ReplyReading(outcome.value, (f"{kind.replace('_', ' ')}: {hit!r}",), None, language, new)
    return ReplyReading(Outcome.REPLIED.value, ("no clear intent",), None, language, new)


def evaluate(rows) -> dict:
    """Accuracy per intent and per language, and the two costly confusions counted on their own."""
    tally: dict[str, dict[str, list[int]]] = {"intent": defaultdict(lambda: [0, 0]),
                                               "language": defaultdict(lambda: [0, 0])}
    confusions = {"accepted_read_as_declined": 0, "declined_read_as_accepted": 0}
    wrong = []
    for row in rows:
        got = read_reply(text=row["text"], html=row.get("html"), subject=row.get("subject"),
                         headers=row.get("headers"), sender=row.get("sender")).outcome
        ok = got == row["intent"]
        for key in ("intent", "language"):
            tally[key][row[key]][0] += ok
            tally[key][row[key]][1] += 1
        if not ok:
            wrong.append({"id": row["id"], "expected": row["intent"], "got": got})
        if row["intent"] == "accepted" and got == "declined":
            confusions["accepted_read_as_declined"] += 1
        if row["intent"] == "declined" and got == "accepted":
            confusions["declined_read_as_accepted"] += 1
    total = sum(v[1] for v in tally["intent"].values())
    correct = sum(v[0] for v in tally["intent"].values())
    return {
        "overall": correct / total if total else 0.0, "n": total,
        "per_intent": {k: v[0] / v[1] for k, v in sorted(tally["intent"].items())},
        "per_language": {k: v[0] / v[1] for k, v in sorted(tally["language"].items())},
        **confusions, "wrong": wrong,
    }
