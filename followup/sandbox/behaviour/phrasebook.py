"""The words of a reply, in five languages: the new text on top, the original quoted below with
the language's own quote header, as mail clients write them.

Several phrasings per intent and language, so a reader of replies meets variety, not one
sentence. Every choice is drawn from a generator the caller seeds, so the same world writes the
same words. The shares below (HTML-only replies, signatures, auto-reply headers) are
ASSUMPTIONS: no source counts them.
"""

from __future__ import annotations

import html
import random
from dataclasses import dataclass
from datetime import date, datetime

from babel.dates import format_date, format_time

from followup.sandbox.behaviour.replies import (ACCEPTED, AUTO_REPLY, DECLINED, OPT_OUT, OUT_OF_OFFICE, QUESTION,
                                                REPLIED, Reply)  # fmt: skip

PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    ACCEPTED: {
        "en": ("Thank you so much! I'm delighted to accept the offer.", "Yes, I accept. Looking forward to starting!",
               "Great news, thank you. I accept the offer and look forward to the next steps.",
               "Count me in! Thanks a lot for the offer."),
        "de": ("Vielen Dank! Ich nehme das Angebot sehr gerne an.", "Ja, sehr gerne! Ich freue mich auf den Start.",
               "Herzlichen Dank für das Angebot, hiermit sage ich zu."),
        "fr": ("Merci beaucoup ! J'accepte l'offre avec plaisir.", "Oui, avec plaisir. J'ai hâte de commencer !",
               "Merci pour la proposition, j'accepte."),
        "es": ("¡Muchas gracias! Acepto la oferta con mucho gusto.", "Sí, acepto. ¡Tengo muchas ganas de empezar!",
               "Gracias por la propuesta, la acepto encantado."),
        "pt": ("Muito obrigado! Aceito a oferta com prazer.", "Sim, aceito! Estou ansiosa para começar.",
               "Obrigada pela proposta, fico muito feliz em aceitar a oferta."),
    },
    DECLINED: {
        "en": ("Thank you so much, but I will pass.", "Thanks for the offer. After careful thought I have decided to "
               "decline.", "I appreciate it, but I accepted another offer last week.",
               "Thank you for thinking of me, but I'm not interested at this time."),
        "de": ("Vielen Dank, aber ich muss leider absagen.", "Danke für das Angebot, ich habe inzwischen ein anderes "
               "Angebot angenommen.", "Ich habe mich für ein anderes Unternehmen entschieden. Trotzdem vielen Dank!"),
        "fr": ("Merci beaucoup, mais je vais décliner votre offre.", "J'ai accepté une autre offre entre-temps, merci "
               "quand même.", "Après réflexion, je ne donnerai pas suite. Merci pour votre confiance."),
        "es": ("Muchas gracias, pero debo rechazar la oferta.", "Gracias, pero ya he aceptado otra oferta.",
               "Lo he pensado bien y prefiero no seguir adelante. Gracias por todo."),
        "pt": ("Muito obrigado, mas vou recusar a proposta.", "Agradeço muito, mas aceitei outra oferta.",
               "Pensei bem e prefiro não seguir adiante. Obrigada mesmo assim."),
    },
    QUESTION: {
        "en": ("This sounds great! Could you tell me more about the start date?",
               "Thanks, I'm very interested. Is the role open to remote work?",
               "Sounds good. What would the salary range be?", "I'm interested! Is there any flexibility on hours?"),
        "de": ("Das klingt sehr interessant! Ab wann wäre der Start?",
               "Danke, ich bin interessiert. Ist die Stelle auch remote möglich?",
               "Klingt gut. Könnten Sie mir mehr zum Gehalt sagen?"),
        "fr": ("Cela m'intéresse beaucoup ! Quelle serait la date de début ?",
               "Merci, l'offre me plaît. Le télétravail est-il possible ?",
               "Très intéressant. Pourriez-vous m'en dire plus sur l'équipe ?"),
        "es": ("¡Me interesa mucho! ¿Cuál sería la fecha de inicio?", "Gracias, suena bien. ¿Es posible trabajar en "
               "remoto?", "Muy interesante. ¿Podrían contarme más sobre el salario?"),
        "pt": ("Tenho muito interesse! Qual seria a data de início?", "Obrigado, parece ótimo. É possível trabalhar "
               "remotamente?", "Interessante! Poderiam me dizer mais sobre o salário?"),
    },
    OPT_OUT: {
        "en": ("Please stop emailing me.", "Please remove me from your mailing list.",
               "Not interested, stop contacting me.", "Unsubscribe."),
        "de": ("Bitte schicken Sie mir keine E-Mails mehr.", "Bitte entfernen Sie mich aus Ihrem Verteiler.",
               "Ich möchte mich von diesen Nachrichten abmelden."),
        "fr": ("Merci de ne plus m'envoyer de messages.", "Veuillez me retirer de votre liste de diffusion.",
               "Je ne souhaite plus recevoir vos e-mails."),
        "es": ("Por favor, dejen de enviarme correos.", "Quiero darme de baja de esta lista.",
               "No deseo recibir más mensajes."),
        "pt": ("Por favor, parem de me enviar e-mails.", "Quero cancelar a inscrição nesta lista.",
               "Não quero receber mais mensagens."),
    },
    REPLIED: {
        "en": ("Thanks, I got it. I'll get back to you.", "Thank you for the message, I'll think it over.",
               "Received, thanks!", "Thanks for reaching out. Talk soon."),
        "de": ("Danke, ist angekommen. Ich melde mich.", "Vielen Dank für die Nachricht, ich denke darüber nach.",
               "Danke, ich schaue es mir in Ruhe an."),
        "fr": ("Merci, bien reçu. Je reviens vers vous rapidement.", "Merci pour votre message, je vais y réfléchir.",
               "Bien reçu, merci !"),
        "es": ("Gracias, recibido. Les escribo pronto.", "Gracias por el mensaje, lo voy a pensar.",
               "¡Recibido, gracias!"),
        "pt": ("Obrigado, recebido. Respondo em breve.", "Obrigada pela mensagem, vou pensar com calma.",
               "Recebido, obrigado!"),
    },
    OUT_OF_OFFICE: {
        "en": ("I am out of the office until {date} with limited access to email.",
               "I'm currently on vacation and will be back on {date}.",
               "Thank you for your message. I am away until {date} and will reply when I return."),
        "de": ("Vielen Dank für Ihre Nachricht. Ich bin bis einschließlich {date} nicht im Büro.",
               "Ich bin im Urlaub und ab dem {date} wieder erreichbar.", "Ich bin derzeit abwesend und ab {date} "
               "wieder da. Ihre E-Mail wird nicht weitergeleitet."),
        "fr": ("Je suis absent du bureau jusqu'au {date} inclus.",
               "Je suis actuellement en congés et serai de retour le {date}.",
               "Merci pour votre message. Je suis absente jusqu'au {date}, avec un accès limité à mes e-mails."),
        "es": ("Estoy fuera de la oficina hasta el {date} con acceso limitado al correo.",
               "Me encuentro de vacaciones; volveré el {date}.", "Gracias por su mensaje. Estaré ausente hasta el "
               "{date}."),
        "pt": ("Estou fora do escritório até {date}, com acesso limitado ao e-mail.",
               "Estou de férias e volto em {date}.", "Obrigado pela mensagem. Estarei ausente até {date}."),
    },
    AUTO_REPLY: {
        "en": ("Thank you for contacting us. This mailbox is not monitored; please do not reply to this message.",
               "We have received your request. Your ticket number is #{n}. Our team will get back to you within "
               "2 business days.", "This is an automated message: this address is not monitored."),
        "de": ("Vielen Dank für Ihre Nachricht. Dieses Postfach wird nicht überwacht.",
               "Wir haben Ihre Anfrage erhalten. Ihr Ticket #{n} wurde erstellt.",
               "Dies ist eine automatisch generierte Nachricht. Bitte antworten Sie nicht darauf."),
        "fr": ("Ceci est une réponse automatique : cette adresse n'est pas surveillée.",
               "Nous avons bien reçu votre demande (votre ticket #{n}). Un conseiller vous répondra sous 48 h.",
               "Ce message a été généré automatiquement, merci de ne pas répondre."),
        "es": ("Este buzón no está supervisado. Por favor, no responda a este mensaje.",
               "Hemos recibido su solicitud. Su ticket #{n} ha sido registrado.",
               "Este es un mensaje generado automáticamente."),
        "pt": ("Esta caixa de correio não é monitorada. Por favor, não responda.",
               "Recebemos sua solicitação. O número do seu chamado é {n}.",
               "Esta mensagem foi gerada automaticamente, não responda."),
    },
}
# Out of office without a return date: the rest of such notices (most give one).
UNDATED_ABSENCE = {
    "en": "I am currently out of the office with limited access to email.",
    "de": "Ich bin zurzeit nicht im Büro und lese meine E-Mails nur eingeschränkt.",
    "fr": "Je suis actuellement absent du bureau.",
    "es": "Estoy fuera de la oficina en este momento.",
    "pt": "Estou fora do escritório no momento.",
}
GREETINGS = {"en": ("Hi {name},", "Hello {name},", "Hi,"), "de": ("Hallo {name},", "Guten Tag,", "Hallo,"),
             "fr": ("Bonjour {name},", "Bonjour,"), "es": ("Hola {name}:", "Hola,", "Buenos días,"),
             "pt": ("Olá {name},", "Oi,", "Bom dia,")}  # fmt: skip
CLOSINGS = {"en": ("Best,", "Thanks,", "Kind regards,"), "de": ("Viele Grüße", "Beste Grüße"),
            "fr": ("Cordialement,", "Bien à vous,"), "es": ("Saludos,", "Un saludo,"),
            "pt": ("Abraços,", "Atenciosamente,")}  # fmt: skip
FROM_PHONE = {"en": "Sent from my iPhone", "de": "Von meinem iPhone gesendet", "fr": "Envoyé de mon iPhone",
              "es": "Enviado desde mi iPhone", "pt": "Enviado do meu iPhone"}  # fmt: skip
# The quote header each language's mail clients write; {date} and {time} in that language.
QUOTE_HEADERS = {"en": "On {date} at {time}, {name} wrote:", "de": "Am {date} um {time} schrieb {name}:",
                 "fr": "Le {date} à {time}, {name} a écrit :", "es": "El {date}, a las {time}, {name} escribió:",
                 "pt": "Em {date}, às {time}, {name} escreveu:"}  # fmt: skip
_QUOTE_DATE = {"en": "EEE, MMM d, y", "de": "EEE, d. MMM y", "fr": "EEE d MMM y", "es": "EEE, d MMM y",
               "pt": "EEE, d 'de' MMM 'de' y"}  # fmt: skip
# Subject prefixes of automatic replies (Outlook's, per language): of absence, and of anything else.
AUTO_PREFIXES = {"en": "Automatic reply:", "de": "Abwesenheitsnotiz:", "fr": "Réponse automatique :",
                 "es": "Respuesta automática:", "pt": "Resposta automática:"}  # fmt: skip
BOT_PREFIXES = {**AUTO_PREFIXES, "de": "Automatische Antwort:"}

# ASSUMPTIONS: how people's replies are written.
HTML_ONLY, WITH_HTML, SIGNATURE, GREETING = 0.15, 0.30, 0.40, 0.70
# ASSUMPTIONS: most out-of-office notices carry auto-reply headers, a subject prefix, a return date.
AUTO_HEADERS, AUTO_SUBJECT, DATED = 0.85, 0.80, 0.85


@dataclass(frozen=True)
class Original:
    """What the reply answers, from the SendGrid request body."""

    subject: str
    text: str
    sender_name: str  # as the quote header names it
    sender_email: str
    recruiter: str  # the first name a reply greets, or "" (a company's From name is not greeted)
    candidate_name: str
    sent_at: datetime  # business time of delivery


@dataclass(frozen=True)
class Written:
    subject: str
    text: str | None
    html: str | None
    headers: tuple[tuple[str, str], ...]  # the automatic ones only; inbound.form adds From, To, ...


def write(reply: Reply, original: Original, rng: random.Random) -> Written:
    lang = reply.language
    if reply.intent in (OUT_OF_OFFICE, AUTO_REPLY):
        return _automatic(reply, original, rng)
    lines = []
    first = original.recruiter
    if rng.random() < GREETING:
        greeting = rng.choice(GREETINGS[lang])
        lines += [greeting.format(name=first) if first or "{name}" not in greeting else GREETINGS[lang][-1], ""]
    lines += [rng.choice(PHRASES[reply.intent][lang]), "", rng.choice(CLOSINGS[lang]), original.candidate_name]
    if rng.random() < SIGNATURE:
        full = rng.random() < 0.5  # a signature block, or only the phone's line
        lines += ["", "-- ", original.candidate_name, FROM_PHONE[lang]] if full else ["", FROM_PHONE[lang]]
    header = QUOTE_HEADERS[lang].format(date=format_date(original.sent_at, _QUOTE_DATE[lang], locale=lang),
                                        time=format_time(original.sent_at, "HH:mm", locale=lang),
                                        name=f"{original.sender_name} <{original.sender_email}>")  # fmt: skip
    quoted = [f"> {line}" if line else ">" for line in original.text.splitlines()]
    text = "\n".join([*lines, "", header, "", *quoted]) + "\n"
    shape = rng.random()
    if shape >= HTML_ONLY + WITH_HTML:
        return Written(f"Re: {original.subject}", text, None, ())
    new_html = "".join(f"<div>{html.escape(line) or '<br>'}</div>" for line in lines)
    quote_html = "<br>\n".join(html.escape(line) for line in original.text.splitlines())
    page = (f'<div dir="ltr">{new_html}</div><br><div class="gmail_quote"><div class="gmail_attr">'
            f'{html.escape(header)}<br></div><blockquote class="gmail_quote" style="margin:0 0 0 .8ex;'
            f'border-left:1px #ccc solid;padding-left:1ex">{quote_html}</blockquote></div>')  # fmt: skip
    return Written(f"Re: {original.subject}", None if shape < HTML_ONLY else text, page, ())


def _automatic(reply: Reply, original: Original, rng: random.Random) -> Written:
    lang = reply.language
    if reply.intent == OUT_OF_OFFICE:
        phrase = rng.choice(PHRASES[OUT_OF_OFFICE][lang])
        body = phrase.format(date=_long_date(reply.returns_on, lang)) if rng.random() < DATED else UNDATED_ABSENCE[lang]
        automatic = rng.random() < AUTO_HEADERS
        headers = (("Auto-Submitted", "auto-replied"), ("X-Autoreply", "yes"), ("X-Auto-Response-Suppress", "All"))
        prefix = AUTO_PREFIXES[lang] if rng.random() < AUTO_SUBJECT else "Re:"
        subject = f"{prefix} {original.subject}"
    else:
        body = rng.choice(PHRASES[AUTO_REPLY][lang]).format(n=rng.randint(100000, 999999))
        automatic = True  # ticket systems and no-reply mailboxes mark what they send
        headers = (("Auto-Submitted", rng.choice(("auto-replied", "auto-generated"))), ("Precedence", "auto_reply"))
        subject = rng.choice((f"Re: {original.subject}", f"{BOT_PREFIXES[lang]} {original.subject}"))
    text = f"{body}\n\n{original.candidate_name}\n"
    page = f"<html><body><p>{html.escape(body)}</p><p>{html.escape(original.candidate_name)}</p></body></html>"
    return Written(subject, text, page if rng.random() < 0.5 else None, headers if automatic else ())


def _long_date(day: date | None, lang: str) -> str:
    return format_date(day, "long", locale=lang) if day is not None else ""
