"""Language codes: the one owner of reading, normalising, matching and naming them.

A language is a code the user's data uses. ISO 639-1 (``sw``) and 639-3 (``quy``) codes, BCP-47 tags
(``pt-BR``, ``zh-Hant``) and FLORES-200 codes (``quy_Latn``) are all read, with ``langcodes`` (the IANA
registry and CLDR's likely scripts) doing the normalising: ``swh_Latn``, ``swa`` and ``SW`` are all ``sw``
(an individual language becomes its macrolanguage where that is the common code, as ``arb`` ``ar``), and
a script is kept only where it is not the language's usual one (``zh-Hant``, ``sr-Latn``). File names
and dataset configurations keep their own spelling: :func:`find_language` matches a code against them.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum

import langcodes
from langcodes.data_dicts import LIKELY_SUBTAGS, MACROLANGUAGES

from .errors import MptError

DEFAULT_SOURCE = "en"  # the source language, the one prompts are trained in, unless told otherwise
# CLDR folds Tagalog into Filipino and Twi into Akan; ISO 639, FLORES-200 and SIB-200 keep them apart, and so do we
KEPT_APART = {"tl": "tl", "tgl": "tl", "tw": "tw", "twi": "tw"}
# a script that is the usual one written alone: FLORES writes Korean as Hangul (kor_Hang) where CLDR's usual
# script is Kore (Hangul with Hanja), and both are plain ko
USUAL_SCRIPT_ALONE = {"Hang": "Kore"}
ACCEPTED = "ISO 639 (sw, quy), BCP-47 (pt-BR, zh-Hant) or FLORES-200 (quy_Latn)"


def normalise(code: str) -> str:
    """The canonical tag of ``code`` (``"jav_Latn"`` -> ``"jv"``), or a clear error for a malformed code."""
    if not isinstance(code, str):
        raise MptError(f"{code!r} is not a language code; use {ACCEPTED}")
    text = code.strip().replace("_", "-")
    try:
        language = langcodes.Language.get(langcodes.standardize_tag(text, macro=True))
    except (langcodes.LanguageTagError, ValueError):
        language = None
    if language is None or not language.language or language.language == "und" or not language.is_valid():
        raise MptError(f"{code!r} is not a language code; use {ACCEPTED}")
    if (own := KEPT_APART.get(text.split("-")[0].lower())) is not None:
        language = langcodes.Language.make(own, script=language.script, territory=language.territory, variants=language.variants)
    if language.script and USUAL_SCRIPT_ALONE.get(language.script, language.script) == _usual_script(language):
        language = langcodes.Language.make(language.language, territory=language.territory, variants=language.variants)
    return language.to_tag()


def _usual_script(language: langcodes.Language) -> str | None:
    """CLDR's likely script of ``language`` (``jv``: Latn, ``zh-TW``: Hant), or, where CLDR has none of its own, its
    macrolanguage's (``pbt``: Pashto's Arab, ``acm``: Arabic's), so that FLORES's ``pbt_Arab`` is plain ``pbt``."""
    for code in (language.language, MACROLANGUAGES.get(language.language)):
        if code in LIKELY_SUBTAGS:
            return langcodes.Language.make(code, territory=language.territory).maximize().script
    return None


def language_name(code: str) -> str:
    """The English name of a language (``"quy"`` -> ``"Ayacucho Quechua"``)."""
    return langcodes.Language.get(code.replace("_", "-"), normalize=False).display_name()


def script_of(code: str) -> str:
    """The ISO 15924 script a language is written in: the code's own (``ks-Deva``) or CLDR's likely one
    (``nqo`` -> ``Nkoo``, ``ar`` -> ``Arab``)."""
    language = langcodes.Language.get(code.replace("_", "-"), normalize=False)
    return language.script or _usual_script(language) or "?"


def describe(code: str) -> str:
    """A code with its name, for tables and messages: ``"jv (Javanese)"``."""
    return f"{code} ({language_name(code)})"


def languages_in(entries: Iterable[str]) -> dict[str, str]:
    """The entries that are language codes (file names' or configurations' spellings), by canonical tag; the
    first spelling of a language wins, and entries such as ``all_languages`` or ``notes`` are passed over."""
    canonical = {}
    for entry in entries:
        try:
            canonical.setdefault(normalise(entry), entry)
        except MptError:
            continue
    return canonical


def find_language(code: str, available: Iterable[str]) -> str | None:
    """The entry of ``available`` (codes as a dataset or file names spell them) that is ``code``'s language.

    The same canonical tag wins; a bare language (``ko``) also finds the one entry of that language with
    a script or region (``kor_Hang``). Entries that are not language codes are passed over.
    """
    wanted = normalise(code)
    canonical = languages_in(available)
    if wanted in canonical:
        return canonical[wanted]
    if "-" not in wanted:
        same = [entry for tag, entry in canonical.items() if tag.split("-")[0] == wanted]
        if len(same) == 1:
            return same[0]
    return None


class AllLanguages(Enum):
    """The type of :data:`ALL`: no list of codes, so that an empty list cannot be taken for it."""

    ALL = "all"


ALL = AllLanguages.ALL
"""A language option's ``all``: the languages the data has, which the one reading the data lists
(``data_languages``, ``corpus_languages``)."""


def parse_languages(spec: str | Iterable[str] | AllLanguages, what: str = "languages") -> tuple[str, ...] | AllLanguages:
    """The one reading of a language list, from the command line or Python: :data:`ALL` or ``"all"`` is
    ALL; codes, comma-separated (``"ar,quy_Latn,pt-BR"``) or in a list, are normalised, in order, once each.
    No codes at all is refused: only ``all`` means every language (``what``: the languages, in the error)."""
    if spec is ALL or (isinstance(spec, str) and spec.strip().lower() == "all"):
        return ALL
    if not isinstance(spec, Iterable):
        raise MptError(f"{what}: give language codes, such as ('de', 'sw'), or 'all'; got {spec!r}")
    codes = [part for part in spec.split(",") if part.strip()] if isinstance(spec, str) else list(spec)
    if not codes:
        raise MptError(f"no {what} given; name them, or 'all' for every language the data has")
    return tuple(dict.fromkeys(normalise(code) for code in codes))


def check_targets(source: str, targets) -> None:
    """Target languages of a transfer: at least one, and not the source language."""
    if not targets:
        raise MptError("no target languages given")
    if source in targets:
        raise MptError(f"{source} is the source language; choose other target languages")
