"""The sandbox's candidates: a seeded model of what each recipient does with what they are sent.

- engagement: opens, Apple's machine opens, clicks, bounces, unsubscribes, spam reports (events);
- replies: whether, when and with which intent and language a candidate replies (Inbound Parse);
- phrasebook: the words of those replies in five languages;
- offline: voicemail call-backs and in-person attendance, for the end-to-end demo.

Every parameter sits beside its source (../shared/behaviour-calibration.md); what no source
gives is marked as an ASSUMPTION. Each world is a function of the seed and the message alone.
"""

from followup.sandbox.behaviour.engagement import DEFAULT, Behaviour, act, world

__all__ = ["DEFAULT", "Behaviour", "act", "world"]
