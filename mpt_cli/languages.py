"""Language codes the tool knows: the 15 XNLI languages (``all``), and the other languages of the built-in tasks."""

from .errors import MptError

XNLI_LANGUAGES: dict[str, str] = {
    "ar": "Arabic",
    "bg": "Bulgarian",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "hi": "Hindi",
    "ru": "Russian",
    "sw": "Swahili",
    "th": "Thai",
    "tr": "Turkish",
    "ur": "Urdu",
    "vi": "Vietnamese",
    "zh": "Chinese",
}
LANGUAGES = XNLI_LANGUAGES | {"ja": "Japanese", "ko": "Korean"}  # PAWS-X has these two beside five XNLI languages
DEFAULT_SOURCE = "en"  # the source language, the one prompts are trained in, unless told otherwise


def check_language(code: str) -> str:
    """Return ``code`` normalised to lower case, or raise a clear error for an unknown code."""
    normalised = code.strip().lower()
    if normalised not in LANGUAGES:
        raise MptError(f"unknown language code {code!r}; known languages are: {' '.join(LANGUAGES)}")
    return normalised


def means_all(spec: str) -> bool:
    """Whether a language option says ``all`` (each command says what all means for it)."""
    return spec.strip().lower() == "all"


def parse_languages(spec: str) -> list[str]:
    """Parse a comma-separated list such as ``"ar,ur,sw"``; ``"all"`` means every XNLI language."""
    if means_all(spec):
        return list(XNLI_LANGUAGES)
    codes = [check_language(part) for part in spec.split(",") if part.strip()]
    if not codes:
        raise MptError("no language given")
    return list(dict.fromkeys(codes))


def parse_targets(spec: str, source: str) -> list[str]:
    """Target languages of a transfer from ``source``: a list as :func:`parse_languages` reads it, or
    ``"all"``, every XNLI language but the source."""
    if means_all(spec):
        return [code for code in XNLI_LANGUAGES if code != source]
    return parse_languages(spec)


def check_targets(source: str, targets) -> None:
    """Target languages of a transfer: at least one, and not the source language."""
    if not targets:
        raise MptError("no target languages given")
    if source in targets:
        raise MptError(f"{source} is the source language; choose other target languages")
